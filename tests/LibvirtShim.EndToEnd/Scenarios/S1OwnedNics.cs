using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>Issue 4, scenario 1: a guest whose NICs are all the hook's.</summary>
[Collection(LibvirtCollection.Name)]
public sealed class S1OwnedNics(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-s1-";

    [Fact]
    public void Start_CreatesTheDeclaredMacvtaps_Destroy_RemovesThem()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("1 owned NICs: start, links, domiflist, destroy");
        var guest = new GuestXml(Prefix + "guest", [
            new OwnedNic(GuestXml.Mac(0x10, 1), fixture.Tap(100), LibvirtFixture.Uplink0, "bridge"),
            new OwnedNic(GuestXml.Mac(0x10, 2), fixture.Tap(101), LibvirtFixture.Uplink0, "vepa"),
            new OwnedNic(GuestXml.Mac(0x10, 3), fixture.Tap(102), LibvirtFixture.Uplink1, "private"),
        ]);
        try
        {
            fixture.Main.Define(guest);
            CmdResult start = log.Step("virsh start", () => fixture.Main.Start(guest.Name));
            start.MustSucceed($"virsh start {guest.Name}");
            Assert.True(fixture.Main.IsActive(guest.Name), $"{guest.Name} is not running: {fixture.Main.DomState(guest.Name)}");

            Expect.OwnedLinks(guest, IpLinks.ByName(), LibvirtFixture.Instance);

            List<IfListRow> rows = fixture.Main.DomIfList(guest.Name);
            Assert.Equal(
                guest.Owned.Select(n => (n.Name, "ethernet", n.Mac)).Order(),
                rows.Select(r => (r.Interface, r.Type, r.Mac)).Order());

            ShimStatus status = fixture.Status();
            var mine = status.Of(guest);
            Assert.True(mine.Count == 3, $"status should list the 3 owned NICs of {guest.Name}: {status}");
            foreach (OwnedNic nic in guest.Owned)
            {
                StatusEntry? e = status.Find(nic.Name);
                Assert.True(e is { HeldAs: "created", Link: "up", Problem: null } && e.Domain == guest.Name && e.Mac == nic.Mac
                            && e.Lower == nic.Source && e.Mode == nic.Mode,
                    $"status entry for {nic.Name}: {e?.ToString() ?? "none"}");
            }
            Assert.True(status.ExitCode == 0, $"status should find state and kernel in agreement: {status}");

            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed($"virsh destroy {guest.Name}"));
            Expect.WaitNothingLeftOf(fixture, guest);
            Assert.Equal("shut off", fixture.Main.DomState(guest.Name));
            Assert.True(fixture.Status().ExitCode == 0, $"status after destroy: {fixture.Status()}");
        }
        finally
        {
            fixture.AfterScenario(Prefix);
        }
    }
}
