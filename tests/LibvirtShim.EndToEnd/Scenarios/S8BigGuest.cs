using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>Issue 4, scenario 8: the seed's case, one guest with 82 owned NICs (libvirt adds the PCI bridges itself).</summary>
[Collection(LibvirtCollection.Name)]
public sealed class S8BigGuest(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-s8-";
    private const int Nics = 82;

    [Fact]
    public void EightyTwoOwnedNics_StartRunStop()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("8 one guest with 82 owned NICs");
        var guest = new GuestXml(Prefix + "big82",
            Enumerable.Range(0, Nics).Select(i => (Nic)new OwnedNic(GuestXml.Mac(0x90, i), fixture.Tap(800 + i), LibvirtFixture.Uplink0)).ToList());
        try
        {
            fixture.Main.Define(guest);
            log.Step("virsh start", () => fixture.Main.Start(guest.Name).MustSucceed($"virsh start {guest.Name}"));
            Assert.True(fixture.Main.IsActive(guest.Name));

            Expect.OwnedLinks(guest, IpLinks.ByName(), LibvirtFixture.Instance);
            var rows = fixture.Main.DomIfList(guest.Name);
            Assert.Equal(guest.Owned.Select(n => (n.Name, n.Mac)).Order(), rows.Select(r => (r.Interface, r.Mac)).Order());
            ShimStatus status = fixture.Status();
            Assert.True(status.Of(guest).Count(e => e.HeldAs == "created" && e.Link == "up" && e.Problem is null) == Nics && status.ExitCode == 0,
                $"status should hold {Nics} created names, all up: {status}");

            // It keeps running with all of them for a moment (QEMU opened every /dev/tapN).
            string alias = $"libvirt-shim:{guest.Uuid:D}@{LibvirtFixture.Instance}";
            Poll.During(TimeSpan.FromSeconds(2), () =>
            {
                if (!fixture.Main.IsActive(guest.Name)) return $"guest {fixture.Main.DomState(guest.Name)}";
                int up = IpLinks.All().Count(l => l.IsMacvtap && l.AdminUp && l.Alias == alias);
                return up == Nics ? null : $"{up} of {Nics} macvtaps up";
            }, $"{guest.Name} running with its {Nics} macvtaps up");

            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed($"virsh destroy {guest.Name}"));
            Expect.WaitNothingLeftOf(fixture, guest);
            Assert.Equal("shut off", fixture.Main.DomState(guest.Name));
            ShimStatus end = fixture.Status();
            Assert.True(end.Names.Count == 0 && end.ExitCode == 0, $"status at the end: {end}");
        }
        finally
        {
            fixture.AfterScenario(Prefix);
        }
    }
}
