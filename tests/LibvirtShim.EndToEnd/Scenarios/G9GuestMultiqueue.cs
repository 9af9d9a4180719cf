using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 22, multiqueue: an owned NIC with &lt;driver name='qemu' queues='4'/&gt; (QEMU's own virtio-net backend: this
/// kernel has no vhost-net) on a guest with 4 vCPUs: libvirt opens the macvtap's node once per queue, QEMU holds 4
/// descriptors of the link's device, the guest's driver uses 4 queue pairs, and traffic passes.
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class G9GuestMultiqueue(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-g9-";
    private const int Queues = 4;

    [Fact]
    public void A_FourQueues_TheGuestUsesFourQueuePairsAndPassesTraffic()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("g9 booted guest: an owned NIC with 4 queues");
        var owned = new OwnedNic(GuestXml.Mac(0x98, 1), fixture.Tap(990), LibvirtFixture.Uplink0, "bridge", Queues: Queues);
        var nic = new GuestLanNic(owned, Lan.GuestAddress(0));
        // ACPI: without it the guest brings up one CPU, and virtio-net uses as many queue pairs as there are CPUs.
        var guest = new LinuxGuest(fixture, Prefix + "mq", [nic], vcpus: Queues, acpi: true);
        try
        {
            guest.Boot(fixture, log);

            Assert.Equal((Queues, Queues), guest.Queues(owned.Mac));
            int qemu = int.Parse(File.ReadAllText(Path.Combine(fixture.QemuRunDir, guest.Name + ".pid")).Trim());
            Assert.Equal(Queues, TapNodes.HeldBy(qemu).GetValueOrDefault(TapNodes.SysfsDevice(owned.Name)));
            log.Step("100 pings, IPv4 and IPv6", () =>
            {
                foreach (string address in new[] { nic.Address.V4, nic.Address.V6 })
                {
                    CmdResult ping = Lan.In(TimeSpan.FromSeconds(60), "ping", "-n", "-q", "-c", "100", "-i", "0.01", "-W", "2", address);
                    Assert.True(ping.Ok && ping.Stdout.Contains("100 packets transmitted, 100 received", StringComparison.Ordinal), ping.Describe());
                }
            });

            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed());
            Expect.WaitNothingLeftOf(fixture, guest.Xml);
        }
        finally
        {
            fixture.AfterScenario(Prefix);
        }
    }
}
