using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>Issue 4, scenario 2: owned NICs beside libvirt's own macvtaps (direct, custom target, macvtap network) and a user NIC.</summary>
[Collection(LibvirtCollection.Name)]
public sealed class S2MixedGuest(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-s2-";
    private const string Network = "e2e-s2-pool";

    [Fact]
    public void Status_ShowsEveryMacvtapWithItsDomain_AndNothingAfterDestroy()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("2 mixed guest: owned, direct, custom target, macvtap network, user");
        var guest = new GuestXml(Prefix + "guest", [
            new OwnedNic(GuestXml.Mac(0x20, 1), fixture.Tap(200), LibvirtFixture.Uplink0, "bridge"),
            new DirectNic(GuestXml.Mac(0x20, 2), LibvirtFixture.Uplink0, "bridge"),
            new OwnedNic(GuestXml.Mac(0x20, 3), fixture.Tap(201), LibvirtFixture.Uplink1, "vepa"),
            new DirectNic(GuestXml.Mac(0x20, 4), LibvirtFixture.Uplink1, "vepa", Target: "e2e-s2-dt0"),
            new NetworkNic(GuestXml.Mac(0x20, 5), Network),
            new UserNic(GuestXml.Mac(0x20, 6)),
        ]);
        try
        {
            fixture.Main.Run("net-create", fixture.Main.WriteXml(Network, GuestXml.MacvtapNetworkXml(Network, LibvirtFixture.Uplink0)))
                .MustSucceed("creating the macvtap network");
            fixture.Main.Define(guest);
            log.Step("virsh start", () => fixture.Main.Start(guest.Name).MustSucceed($"virsh start {guest.Name}"));

            Expect.OwnedLinks(guest, IpLinks.ByName(), LibvirtFixture.Instance);
            List<IfListRow> rows = fixture.Main.DomIfList(guest.Name);
            Dictionary<string, string> nameOf = rows.ToDictionary(r => r.Mac, r => r.Interface);
            Assert.Equal(6, rows.Count);
            Assert.Equal("e2e-s2-dt0", nameOf[GuestXml.Mac(0x20, 4)]);
            Assert.StartsWith("macvtap", nameOf[GuestXml.Mac(0x20, 2)]);
            Assert.StartsWith("macvtap", nameOf[GuestXml.Mac(0x20, 5)]);

            // Every macvtap of the guest, as the kernel has it, is in the status with the guest's name.
            var links = IpLinks.All();
            var macs = guest.Macs.ToHashSet();
            var macvtaps = links.Where(l => l.IsMacvtap && macs.Contains(l.Mac)).ToList();
            Assert.True(macvtaps.Count == 5, $"expected 5 macvtaps (2 owned, 2 direct, 1 network): {string.Join("; ", macvtaps)}");
            ShimStatus status = fixture.Status();
            var problems = new List<string>();
            foreach (KernelLink link in macvtaps)
            {
                StatusEntry? e = status.Find(link.Name);
                bool owned = guest.Owned.Any(o => o.Name == link.Name);
                if (e is null) { problems.Add($"{link.Name} ({link.Mac}) is not in the status"); continue; }
                if (e.Domain != guest.Name || e.Uuid != guest.Uuid.ToString("D")) problems.Add($"{link.Name}: domain {e.Domain} {e.Uuid}");
                if (e.HeldAs != (owned ? "created" : "libvirt"))
                    problems.Add($"{link.Name}: held as {e.HeldAs}, expected {(owned ? "created" : "libvirt")}");
                if (e.Mac != link.Mac) problems.Add($"{link.Name}: MAC {e.Mac} in status, {link.Mac} in the kernel");
                if (e.Lower != link.Lower) problems.Add($"{link.Name}: lower {e.Lower} in status, {link.Lower} in the kernel");
                if (e.Link != "up" || e.Problem is not null) problems.Add($"{link.Name}: link {e.Link}, problem {e.Problem}");
            }
            if (status.Of(guest).Count != macvtaps.Count)
                problems.Add($"status lists {status.Of(guest).Count} names for the guest, the kernel has {macvtaps.Count} macvtaps");
            Assert.True(problems.Count == 0, string.Join("\n", problems) + $"\nstatus: {status}");

            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed($"virsh destroy {guest.Name}"));
            Expect.WaitNothingLeftOf(fixture, guest);
            Assert.True(fixture.Status().ExitCode == 0, $"status after destroy: {fixture.Status()}");
        }
        finally
        {
            fixture.AfterScenario(Prefix);
            fixture.Main.RemoveNetworks(Network);
        }
    }
}
