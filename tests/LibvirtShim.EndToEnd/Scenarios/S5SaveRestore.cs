using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 4, scenario 5: virsh save / virsh restore. The restore hook ("restore begin") sees the saved XML and may
/// rewrite it: a name taken meanwhile must be replaced by a free one.
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class S5SaveRestore(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-s5-";

    [Fact]
    public void A_Plain_SaveReleasesTheLinks_RestoreRecreatesThem()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("5a save/restore, names still free");
        var guest = new GuestXml(Prefix + "plain", [
            new OwnedNic(GuestXml.Mac(0x50, 1), fixture.Tap(500), LibvirtFixture.Uplink0, "bridge"),
            new OwnedNic(GuestXml.Mac(0x50, 2), fixture.Tap(501), LibvirtFixture.Uplink1, "vepa"),
            new DirectNic(GuestXml.Mac(0x50, 3), LibvirtFixture.Uplink0),
        ]);
        string image = Path.Combine(fixture.WorkDir, "s5-plain.save");
        try
        {
            fixture.Main.Define(guest);
            fixture.Main.Start(guest.Name).MustSucceed($"virsh start {guest.Name}");
            Expect.OwnedLinks(guest, IpLinks.ByName(), LibvirtFixture.Instance);

            log.Step("virsh save", () => fixture.Main.Run(TimeSpan.FromSeconds(120), "save", guest.Name, image).MustSucceed("virsh save"));
            Assert.Equal("shut off", fixture.Main.DomState(guest.Name));
            Expect.WaitNothingLeftOf(fixture, guest);

            long mark = fixture.LogOffset();
            CmdResult restore = log.Step("virsh restore", () => fixture.Main.Run(TimeSpan.FromSeconds(120), "restore", image));
            Assert.True(restore.Ok, $"virsh restore failed: {restore.Describe()}\nhook log:\n{fixture.ShimLogSince(mark)}");
            Assert.True(fixture.Main.IsActive(guest.Name), $"{guest.Name} after restore: {fixture.Main.DomState(guest.Name)}");
            var rows = fixture.Main.DomIfList(guest.Name);
            foreach (OwnedNic nic in guest.Owned)
                Assert.Contains(rows, r => r.Mac == nic.Mac && r.Interface == nic.Name);
            Expect.OwnedLinks(guest, IpLinks.ByName(), LibvirtFixture.Instance);
            ShimStatus status = fixture.Status();
            foreach (OwnedNic nic in guest.Owned)
                Assert.True(status.Find(nic.Name) is { HeldAs: "created", Problem: null } e && e.Domain == guest.Name,
                    $"{nic.Name} in status: {status}");
            Assert.True(status.ExitCode == 0, $"status after restore: {status}");

            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed());
            Expect.WaitNothingLeftOf(fixture, guest);
        }
        finally
        {
            fixture.AfterScenario(Prefix);
            File.Delete(image);
        }
    }

    [Fact]
    public void B_NameTakenWhileSaved_RestoredGuestRunsOnAFreeName()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("5b save/restore, a name taken by another guest meanwhile");
        var saved = new GuestXml(Prefix + "saved", [
            new OwnedNic(GuestXml.Mac(0x51, 1), fixture.Tap(510), LibvirtFixture.Uplink0, "bridge"),
            new OwnedNic(GuestXml.Mac(0x51, 2), fixture.Tap(511), LibvirtFixture.Uplink0, "vepa"),
        ]);
        var thief = new GuestXml(Prefix + "thief", [new OwnedNic(GuestXml.Mac(0x52, 1), fixture.Tap(510), LibvirtFixture.Uplink1, "bridge")]);
        string image = Path.Combine(fixture.WorkDir, "s5-saved.save");
        try
        {
            fixture.Main.Create(saved).MustSucceed($"virsh create {saved.Name}");
            log.Step("virsh save", () => fixture.Main.Run(TimeSpan.FromSeconds(120), "save", saved.Name, image).MustSucceed("virsh save"));
            Expect.WaitNothingLeftOf(fixture, saved);
            fixture.Main.Create(thief).MustSucceed($"virsh create {thief.Name} (takes {fixture.Tap(510)})");
            Expect.OwnedLinks(thief, IpLinks.ByName(), LibvirtFixture.Instance);

            long mark = fixture.LogOffset();
            CmdResult restore = log.Step("virsh restore", () => fixture.Main.Run(TimeSpan.FromSeconds(120), "restore", image));
            Assert.True(restore.Ok,
                $"virsh restore of {saved.Name} with {fixture.Tap(510)} taken failed: {restore.Describe()}\nhook log:\n{fixture.ShimLogSince(mark)}");
            Assert.True(fixture.Main.IsActive(saved.Name));

            var rows = fixture.Main.DomIfList(saved.Name).ToDictionary(r => r.Mac, r => r.Interface);
            string renamed = rows[GuestXml.Mac(0x51, 1)];
            log.Say($"restored NIC {GuestXml.Mac(0x51, 1)} runs as {renamed}");
            Assert.NotEqual(fixture.Tap(510), renamed);
            Assert.Matches($"^{fixture.Daemon.NamePrefix}([0-9]|[1-9][0-9]{{1,3}})$", renamed);
            Assert.True(int.Parse(renamed[fixture.Daemon.NamePrefix.Length..]) < 8192);
            Assert.Equal(fixture.Tap(511), rows[GuestXml.Mac(0x51, 2)]);

            var links = IpLinks.ByName();
            Expect.OwnedLinks(saved, links, LibvirtFixture.Instance, nameOf: nic => rows[nic.Mac]);
            Expect.OwnedLinks(thief, links, LibvirtFixture.Instance);
            ShimStatus status = fixture.Status();
            Assert.True(status.Find(renamed) is { HeldAs: "created" } r1 && r1.Domain == saved.Name, $"{renamed}: {status}");
            Assert.True(status.Find(fixture.Tap(510)) is { HeldAs: "created" } r2 && r2.Domain == thief.Name, $"{fixture.Tap(510)}: {status}");
            Assert.True(status.ExitCode == 0, $"status: {status}");

            log.Step("virsh destroy x2", () =>
            {
                fixture.Main.Destroy(saved.Name).MustSucceed();
                fixture.Main.Destroy(thief.Name).MustSucceed();
            });
            Expect.WaitNothingLeftOf(fixture, saved);
            Expect.WaitNothingLeftOf(fixture, thief);
            ShimStatus end = fixture.Status();
            Assert.True(end.Names.Count == 0 && end.ExitCode == 0, $"status at the end: {end}");
        }
        finally
        {
            fixture.AfterScenario(Prefix);
            File.Delete(image);
        }
    }
}
