using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 11, guests 4: a booted guest saved and restored (its links deleted at `save`, created again at `restore`), then
/// libvirtd restarted under it (the hook's `reconnect`), stays reachable over each of its owned NICs, IPv4 and IPv6.
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class G4GuestSaveRestoreRestart(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-g4-";

    [Fact]
    public void A_SaveRestore_ThenLibvirtdRestart_TheGuestStaysReachable()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("g4 booted guest: save/restore, then a libvirtd restart, reachable after each");
        var guest = new LinuxGuest(fixture, Prefix + "saved", [
            new GuestLanNic(new OwnedNic(GuestXml.Mac(0x93, 1), fixture.Tap(930), LibvirtFixture.Uplink0, "bridge"), Lan.GuestAddress(0)),
            new GuestLanNic(new OwnedNic(GuestXml.Mac(0x93, 2), fixture.Tap(931), LibvirtFixture.Uplink0, "vepa"), Lan.GuestAddress(1)),
        ]);
        string image = Path.Combine(fixture.WorkDir, "g4.save");
        try
        {
            guest.Boot(fixture, log);

            log.Step("virsh save", () => fixture.Main.Run(TimeSpan.FromSeconds(120), "save", guest.Name, image).MustSucceed("virsh save"));
            Expect.WaitNothingLeftOf(fixture, guest.Xml);
            Assert.False(Lan.Answers(guest.Nics[0].Address.V4), $"{guest.Name} answers while saved");

            long mark = fixture.LogOffset();
            CmdResult restore = log.Step("virsh restore", () => fixture.Main.Run(TimeSpan.FromSeconds(120), "restore", image));
            Assert.True(restore.Ok, $"virsh restore failed: {restore.Describe()}\nhook log:\n{fixture.ShimLogSince(mark)}");
            Expect.OwnedLinks(guest.Xml, IpLinks.ByName(), LibvirtFixture.Instance);
            guest.ExpectQemuHoldsItsTaps(fixture.Main, fixture.QemuRunDir);
            log.Step("reachable after restore", () => guest.WaitReachable("after restore"));

            log.Step("libvirtd restart", fixture.RestartDaemon);
            Assert.True(fixture.Main.IsActive(guest.Name), $"{guest.Name} after the restart: {fixture.Main.DomState(guest.Name)}");
            Expect.OwnedLinks(guest.Xml, IpLinks.ByName(), LibvirtFixture.Instance);
            log.Step("reachable after the libvirtd restart", () => guest.WaitReachable("after a libvirtd restart"));
            ShimStatus status = fixture.Status();
            foreach (OwnedNic nic in guest.Xml.Owned)
                Assert.True(status.Find(nic.Name) is { HeldAs: "created", Problem: null } e && e.Domain == guest.Name,
                    $"{nic.Name} in status: {status}");

            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed());
            Expect.WaitNothingLeftOf(fixture, guest.Xml);
        }
        finally
        {
            fixture.AfterScenario(Prefix);
            File.Delete(image);
        }
    }
}
