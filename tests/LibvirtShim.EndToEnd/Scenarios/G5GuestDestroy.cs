using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 11, guests 5: destroying a booted guest that used its owned NICs leaves nothing: no link with its MACs or
/// names, no name held in `libvirt-shim status --json`, nothing answering on the LAN; and the names serve the next guest.
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class G5GuestDestroy(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-g5-";

    [Fact]
    public void A_DestroyAfterTraffic_LeavesNoLinkAndNoNameHeld()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("g5 booted guest: destroy leaves no link and no name held");
        var guest = new LinuxGuest(fixture, Prefix + "gone", [
            new GuestLanNic(new OwnedNic(GuestXml.Mac(0x94, 1), fixture.Tap(940), LibvirtFixture.Uplink0, "bridge"), Lan.GuestAddress(0)),
            new GuestLanNic(new OwnedNic(GuestXml.Mac(0x94, 2), fixture.Tap(941), LibvirtFixture.Uplink1, "vepa"), Lan.GuestAddress(1)),
        ]);
        try
        {
            guest.Boot(fixture, log);

            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed());
            Expect.WaitNothingLeftOf(fixture, guest.Xml);
            ShimStatus status = fixture.Status();
            var names = guest.Xml.Owned.Select(n => n.Name).ToList();
            Assert.True(status.ExitCode == 0 && status.Names.All(e => !names.Contains(e.Name)), $"names still held after destroy: {status}");
            Assert.All(names, name => Assert.False(IpLinks.Exists(name), $"{name} still exists"));
            foreach (GuestLanNic nic in guest.Nics)
                Assert.False(Lan.Answers(nic.Address.V4), $"{nic.Address.V4} still answers after destroy");

            // The same names, free again, carry another guest.
            var next = new GuestXml(Prefix + "next", guest.Xml.Owned.Select((n, i) => (Nic)(n with { Mac = GuestXml.Mac(0x95, i + 1) })).ToList());
            fixture.Main.Create(next).MustSucceed($"virsh create {next.Name} on the names {guest.Name} had");
            Expect.OwnedLinks(next, IpLinks.ByName(), LibvirtFixture.Instance);
            fixture.Main.Destroy(next.Name).MustSucceed();
            Expect.WaitNothingLeftOf(fixture, next);
        }
        finally
        {
            fixture.AfterScenario(Prefix);
        }
    }
}
