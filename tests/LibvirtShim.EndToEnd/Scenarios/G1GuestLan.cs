using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 11, guests 1: a booted Linux guest exchanges IPv4 and IPv6 traffic with the LAN over owned NICs in bridge and
/// vepa mode (the switch port in hairpin mode, as a VEPA lower device needs), beside a libvirt `direct` NIC on the
/// same uplink. Each NIC has its own subnet, so the LAN host's neighbour table shows which NIC answered.
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class G1GuestLan(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-g1-";
    private const string Port = LibvirtFixture.Uplink0 + "p";

    [Fact]
    public void A_OwnedBridgeAndVepaBesideDirect_ExchangeIpv4AndIpv6WithTheLan()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("g1 booted guest: owned bridge + vepa and direct NICs reach the LAN (IPv4, IPv6)");
        var guest = new LinuxGuest(fixture, Prefix + "lan", [
            new GuestLanNic(new OwnedNic(GuestXml.Mac(0x90, 1), fixture.Tap(900), LibvirtFixture.Uplink0, "bridge"), Lan.GuestAddress(0)),
            new GuestLanNic(new OwnedNic(GuestXml.Mac(0x90, 2), fixture.Tap(901), LibvirtFixture.Uplink0, "vepa"), Lan.GuestAddress(1)),
            new GuestLanNic(new DirectNic(GuestXml.Mac(0x90, 3), LibvirtFixture.Uplink0, "bridge", TrustRxFilters: true), Lan.GuestAddress(2)),
        ]);
        try
        {
            Lan.Hairpin(Port, on: true);
            guest.Boot(fixture, log);
            Expect.OwnedLinks(guest.Xml, IpLinks.ByName(), LibvirtFixture.Instance);

            // The switch learned each NIC's MAC on the main host's port: the frames went through the uplink.
            foreach (GuestLanNic nic in guest.Nics)
            {
                string? port = Lan.PortOf(nic.Nic.Mac);
                Assert.True(port == Port, $"the switch has {nic.Nic.Mac} on port {port ?? "(none)"}, expected {Port}");
            }
            // A burst both ways, counted: 20 echo requests per address, every one answered.
            log.Step("20 pings per address", () =>
            {
                foreach (GuestLanNic nic in guest.Nics)
                {
                    foreach (string address in new[] { nic.Address.V4, nic.Address.V6 })
                    {
                        CmdResult ping = Lan.In(TimeSpan.FromSeconds(30), "ping", "-n", "-q", "-c", "20", "-i", "0.02", "-W", "2", address);
                        Assert.True(ping.Ok && ping.Stdout.Contains("20 packets transmitted, 20 received", StringComparison.Ordinal),
                            $"{guest.Name} NIC {nic.Nic.Mac} ({address}): {ping.Describe()}");
                    }
                }
            });

            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed());
            Expect.WaitNothingLeftOf(fixture, guest.Xml);
        }
        finally
        {
            fixture.AfterScenario(Prefix);
            Lan.Hairpin(Port, on: false);
        }
    }
}
