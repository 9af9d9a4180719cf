using System.Text.Json.Nodes;
using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 11, guests 3: a booted guest migrates live to the peer daemon and back while the LAN pings it every 20 ms.
/// Both hosts' uplinks are ports of the one switch. On each arrival the capture on the destination's port must show no
/// frame with the guest's MAC before QEMU's announce: the destination's hook creates the guest's macvtap at `prepare`,
/// seconds before the guest runs there, and a frame from it then would move the guest's MAC on the switch while the
/// guest still runs on the source. The loss is measured and written to artifacts/e2e-timings.txt.
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class G3GuestLiveMigration(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-g3-";
    private static readonly TimeSpan MigrateTimeout = TimeSpan.FromSeconds(180);

    [Fact]
    public void A_ThereAndBack_UnderAnInboundFlow_NoFrameWithTheGuestsMacBeforeTheAnnounce()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("g3 booted guest: live migration main -> peer -> main under a 20 ms inbound ping flow");
        var nic = new OwnedNic(GuestXml.Mac(0x92, 1), "mvtap920", LibvirtFixture.Uplink0, "bridge");
        var guest = new LinuxGuest(fixture, Prefix + "mig", [new GuestLanNic(nic, Lan.GuestAddress(0))]);
        string address = guest.Nics[0].Address.V4;
        using var peer = new PeerHost(fixture);
        try
        {
            log.Step("peer: start, install the hook, restart", () => peer.Start(s => s["Uplinks"] = new JsonObject { [LibvirtFixture.Uplink0] = LibvirtFixture.Uplink1 }));
            fixture.WriteSettings(s => s["Uplinks"] = new JsonObject { [LibvirtFixture.Uplink1] = LibvirtFixture.Uplink0 });
            // IPv4 is what the flow uses; G1 covers IPv6.
            guest.Boot(fixture, log, ipv6: false);
            Assert.Equal(LibvirtFixture.Uplink0 + "p", Lan.PortOf(nic.Mac));

            MigrationFigures there;
            log.Say($"/dev/tap nodes of other namespaces set aside: {TapNodes.MakeRoom()}");
            using (var watch = new MigrationWatch("main -> peer", LibvirtFixture.Uplink1 + "p", nic.Mac, address))
            {
                there = log.Step("virsh migrate --live main -> peer, watched", () => watch.Migrate(() => fixture.Main.Run(MigrateTimeout,
                    "migrate", "--live", guest.Name, PeerHost.Uri, "--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1")));
            }
            Report(log, there);
            Assert.True(peer.Virsh.IsActive(guest.Name), $"{guest.Name} on the peer: {peer.Virsh.DomState(guest.Name)}");
            guest.ExpectQemuHoldsItsTaps(peer.Virsh, Path.Combine(PeerHost.Dir, "run", "qemu"));
            Assert.Equal(LibvirtFixture.Uplink1 + "p", Lan.PortOf(nic.Mac));

            MigrationFigures back;
            log.Say($"/dev/tap nodes of other namespaces set aside: {TapNodes.MakeRoom()}");
            using (var watch = new MigrationWatch("peer -> main", LibvirtFixture.Uplink0 + "p", nic.Mac, address))
            {
                back = log.Step("virsh migrate --live peer -> main, watched", () => watch.Migrate(() => peer.Virsh.Run(MigrateTimeout,
                    "migrate", "--live", guest.Name, Virsh.MainUri, "--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1")));
            }
            Report(log, back);
            Assert.True(fixture.Main.IsActive(guest.Name), $"{guest.Name} on main: {fixture.Main.DomState(guest.Name)}");
            guest.ExpectQemuHoldsItsTaps(fixture.Main, "/run/libvirt/qemu");
            Assert.Equal(LibvirtFixture.Uplink0 + "p", Lan.PortOf(nic.Mac));

            foreach (MigrationFigures figures in new[] { there, back })
            {
                Assert.True(figures.EarlyFrames.Count == 0,
                    $"{figures.Direction}: {figures.EarlyFrames.Count} frame(s) with the guest's MAC entered the switch from the destination " +
                    $"before QEMU's announce ({figures.Announce}):\n  {string.Join("\n  ", figures.EarlyFrames)}");
            }

            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed());
            Expect.WaitNothingLeftOf(fixture, guest.Xml);
        }
        finally
        {
            peer.Dispose();
            fixture.AfterScenario(Prefix);
            fixture.WriteSettings();
        }
    }

    private void Report(ScenarioLog log, MigrationFigures figures)
    {
        log.Say(figures.Summary());
        if (figures.EarlyFrames.Count > 0) log.Say("early frames:\n  " + string.Join("\n  ", figures.EarlyFrames));
        fixture.Timings.Add("migration figures, " + figures.Summary());
    }
}
