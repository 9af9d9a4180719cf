using System.Text.Json.Nodes;
using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 11, guests 3: a booted guest migrates live to the peer daemon and back while the LAN pings it every 20 ms.
/// Both hosts' uplinks are ports of the one switch. On each arrival the capture on the destination's port must show no
/// frame with the guest's MAC before QEMU's announce: the destination's hook creates the guest's macvtap at `prepare`,
/// seconds before the guest runs there, and a frame from it then would move the guest's MAC on the switch while the
/// guest still runs on the source. The loss is measured and written to artifacts/e2e-timings.txt. B does the same between
/// libvirt 9.0 / QEMU 7.2 (this host's) and libvirt 11.3 / QEMU 10.0 (scripts/libvirt-next.sh), both ways: the guests'
/// machine type pc-i440fx-7.2 is one both QEMUs know.
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
        using var peer = new PeerHost(fixture);
        ThereAndBack(peer, "mig", "g3 booted guest: live migration main -> peer -> main under a 20 ms inbound ping flow");
    }

    [Fact]
    public void B_ToLibvirtNextAndBack_UnderAnInboundFlow()
    {
        fixture.Require();
        if (fixture.NotApplicable(fixture.Daemon.InTree,
            "g3b: its daemon is libvirt-next itself, and A migrated it to and from this host's libvirt")) return;
        using var peer = new NextPeer(fixture);
        ThereAndBack(peer, "mixed", "g3b booted guest: live migration main -> libvirt-next -> main (mixed versions) under a 20 ms inbound ping flow");
    }

    private void ThereAndBack(IMigrationPeer peer, string name, string title)
    {
        using ScenarioLog log = fixture.Scenario(title);
        var nic = new OwnedNic(GuestXml.Mac(0x92, 1), fixture.Tap(920), LibvirtFixture.Uplink0, "bridge");
        var guest = new LinuxGuest(fixture, Prefix + name, [new GuestLanNic(nic, Lan.GuestAddress(0))]);
        string address = guest.Nics[0].Address.V4;
        try
        {
            log.Step("peer: start, install the hook, restart",
                () => peer.Start(s => s["Uplinks"] = new JsonObject { [LibvirtFixture.Uplink0] = LibvirtFixture.Uplink1 }));
            log.Say($"main: {fixture.Versions}; peer: {peer.Versions}");
            fixture.Timings.Add($"{title}: main {fixture.Versions}; peer {peer.Versions}");
            fixture.WriteSettings(s => s["Uplinks"] = new JsonObject { [LibvirtFixture.Uplink1] = LibvirtFixture.Uplink0 });
            // IPv4 is what the flow uses; G1 covers IPv6.
            guest.Boot(fixture, log, ipv6: false);
            Assert.Equal(LibvirtFixture.Uplink0 + "p", Lan.PortOf(nic.Mac));

            MigrationFigures there;
            using (var watch = new MigrationWatch($"main -> {peer.Name}", LibvirtFixture.Uplink1 + "p", nic.Mac, address))
            {
                there = log.Step("virsh migrate --live main -> peer, watched", () => watch.Migrate(() => fixture.Main.Run(MigrateTimeout,
                    "migrate", "--live", guest.Name, peer.Virsh.Uri, "--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1")));
            }
            Report(log, there);
            Assert.True(peer.Virsh.IsActive(guest.Name), $"{guest.Name} on the peer: {peer.Virsh.DomState(guest.Name)}");
            guest.ExpectQemuHoldsItsTaps(peer.Virsh, peer.QemuRunDir);
            Assert.Equal(LibvirtFixture.Uplink1 + "p", Lan.PortOf(nic.Mac));

            MigrationFigures back;
            using (var watch = new MigrationWatch($"{peer.Name} -> main", LibvirtFixture.Uplink0 + "p", nic.Mac, address))
            {
                back = log.Step("virsh migrate --live peer -> main, watched", () => watch.Migrate(() => peer.Virsh.Run(MigrateTimeout,
                    "migrate", "--live", guest.Name, fixture.Main.Uri, "--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1")));
            }
            Report(log, back);
            Assert.True(fixture.Main.IsActive(guest.Name), $"{guest.Name} on main: {fixture.Main.DomState(guest.Name)}");
            guest.ExpectQemuHoldsItsTaps(fixture.Main, fixture.QemuRunDir);
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
