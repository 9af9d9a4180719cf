using System.Text.Json.Nodes;
using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 24: port security. A booted guest on one owned NIC with guard='ip' tries to pass for others, round after round
/// (its /init's shim.spoof): pings from a foreign address, a gratuitous ARP claiming the LAN's gateway, busybox udhcpd
/// answering a DHCP client on the LAN, pings with its MAC changed. A capture on the LAN (the switch port of the host it
/// runs on) sees none of it, the guard's counters show it was sent and dropped, and the LAN's DHCP client gets no offer;
/// its own IPv4 and IPv6 traffic and its DHCP client's DISCOVER pass. The same after a libvirtd restart, after a live
/// migration to the peer (whose hook applies the guard the <c>&lt;shim:link&gt;</c> carries, on another name and uplink)
/// and back. Both hosts run the listener: the guarded link is created down and brought up with the vCPUs, and the announce
/// it repeats on arrival (QEMU's RARP from the guest's MAC) passes the guard. After destroy, no table or chain of the guest's
/// is left in the kernel.
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class G6GuestGuard(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-g6-";
    private static readonly TimeSpan MigrateTimeout = TimeSpan.FromSeconds(180);

    [Fact]
    public void A_SpoofingGuest_TheLanSeesNoneOfIt_ItsOwnTrafficPasses_ThroughAMigrationThereAndBack()
    {
        fixture.Require();
        if (!Cmd.Run("busybox", "--list").Ok) Assert.Fail("busybox (for a DHCP client on the LAN) is missing: scripts/libvirt-up.sh installs it");
        using ScenarioLog log = fixture.Scenario("g6 booted guest with guard='ip' spoofing: the LAN sees none of it, there and back");
        using var peer = new PeerHost(fixture);
        GuestAddress own = Lan.GuestAddress(0, host: 60);
        var nic = new OwnedNic(GuestXml.Mac(0x96, 1), fixture.Tap(960), LibvirtFixture.Uplink0, "bridge", Guard: "ip", Ips: $"{own.V4} {own.V6}");
        var spoof = new Spoof(GuestXml.Mac(0x96, 0xee), Lan.GuestAddress(0, host: 99).V4, Lan.HostV4(0));
        var guest = new LinuxGuest(fixture, Prefix + "spoof", [new GuestLanNic(nic, own)],
            extraCmdline: $"shim.spoof={spoof.Mac},{spoof.V4},{spoof.Victim}," +
                $"{Lan.GuestAddress(0, host: 200).V4},{Lan.GuestAddress(0, host: 210).V4}");
        try
        {
            log.Step("peer: start, install the hook, restart",
                () => peer.Start(s => s["Uplinks"] = new JsonObject { [LibvirtFixture.Uplink0] = LibvirtFixture.Uplink1 }));
            fixture.WriteSettings(s => s["Uplinks"] = new JsonObject { [LibvirtFixture.Uplink1] = LibvirtFixture.Uplink0 });
            using ShimListener mainListener = fixture.StartListener();
            using ShimListener peerListener = peer.StartListener();
            guest.Boot(fixture, log);
            Assert.Single(Guards.Tables(guest.Xml.Uuid));
            Assert.Single(Guards.ChainsOn(nic.Name));
            ExpectGuarded(log, guest, own, spoof, LibvirtFixture.Uplink0 + "p", "on main");

            log.Step("libvirtd restart", fixture.RestartDaemon);
            Assert.Single(Guards.ChainsOn(nic.Name));
            ExpectGuarded(log, guest, own, spoof, LibvirtFixture.Uplink0 + "p", "after a libvirtd restart");

            log.Say($"/dev/tap nodes of other namespaces set aside: {TapNodes.MakeRoom()}");
            log.Step("virsh migrate --live main -> peer", () => fixture.Main.Run(MigrateTimeout, "migrate", "--live", guest.Name, peer.Virsh.Uri,
                "--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1").MustSucceed("migration main -> peer"));
            Assert.True(peer.Virsh.IsActive(guest.Name), $"{guest.Name} on the peer: {peer.Virsh.DomState(guest.Name)}");
            guest.WaitReachable("on the peer");
            ExpectAnnounced(peerListener, "on the peer");
            Assert.Empty(Guards.ChainsOn(nic.Name));
            ExpectGuarded(log, guest, own, spoof, LibvirtFixture.Uplink1 + "p", "on the peer");

            log.Say($"/dev/tap nodes of other namespaces set aside: {TapNodes.MakeRoom()}");
            long announcedOnMain = mainListener.Figures()?["announces"] ?? 0;
            log.Step("virsh migrate --live peer -> main", () => peer.Virsh.Run(MigrateTimeout, "migrate", "--live", guest.Name, fixture.Main.Uri,
                "--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1").MustSucceed("migration peer -> main"));
            Assert.True(fixture.Main.IsActive(guest.Name), $"{guest.Name} on main: {fixture.Main.DomState(guest.Name)}");
            guest.WaitReachable("back on main");
            ExpectAnnounced(mainListener, "back on main", announcedOnMain);
            Poll.Until(() => Guards.Tables(guest.Xml.Uuid).Count == 1, "the peer's release to delete its guard table", TimeSpan.FromSeconds(30));
            ExpectGuarded(log, guest, own, spoof, LibvirtFixture.Uplink0 + "p", "back on main");

            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed());
            Expect.WaitNothingLeftOf(fixture, guest.Xml);
            Assert.Empty(Guards.Tables(guest.Xml.Uuid));
            Assert.Empty(Guards.ChainsOn(nic.Name));
        }
        finally
        {
            peer.Dispose();
            fixture.AfterScenario(Prefix);
            fixture.WriteSettings();
        }
    }

    /// <summary>The listener brought the arriving guest's guarded link up and its announce went out through the guard.</summary>
    private static void ExpectAnnounced(ShimListener listener, string where, long before = 0)
    {
        ListenerFigures? figures = Poll.Until(listener.Figures, f => f is not null && f["announces"] + f["announce_failures"] > before,
            $"{where}: the listener to bring the arriving link up and announce it", TimeSpan.FromSeconds(30));
        Assert.True(figures!["announce_failures"] == 0, $"{where}: the guard stopped the listener's announce: {figures}");
    }

    /// <summary>What the guest pretends: another MAC, a foreign address, and the victim's address in its ARP.</summary>
    private sealed record Spoof(string Mac, string V4, string Victim);

    /// <summary>
    /// A capture on <paramref name="port"/> across three of the guest's spoofing rounds and a DHCP client's attempt on the LAN:
    /// nothing spoofed in it, the guest's own traffic and DHCP client in it, the guard's counters up, no DHCP offer for the LAN.
    /// </summary>
    private void ExpectGuarded(ScenarioLog log, LinuxGuest guest, GuestAddress own, Spoof spoof, string port, string where)
    {
        string mac = guest.Nics[0].Nic.Mac;
        string from = $" {mac} > ";   // tcpdump -e: "TIME SOURCE-MAC > DESTINATION-MAC, ethertype ..."
        string ownV6 = System.Net.IPAddress.Parse(own.V6).ToString();   // as tcpdump writes it
        long droppedBefore = Guards.Dropped(guest.Xml.Uuid);
        // --immediate-mode: every frame printed as it comes (not a block later), so none is lost when tcpdump is stopped.
        using var capture = new BackgroundProcess(Lan.InCommand("tcpdump", "--immediate-mode", "-i", port, "-Q", "in", "-e", "-n", "-l", "-U"));
        Poll.Until(() => capture.Stderr.Any(l => l.StartsWith("listening on", StringComparison.Ordinal)) || capture.HasExited,
            $"tcpdump on {port} to start capturing", TimeSpan.FromSeconds(20));
        int mark = guest.ConsoleMark();
        CmdResult dhcp = log.Step($"{where}: a DHCP client on the LAN asks", () => Lan.In(TimeSpan.FromSeconds(30),
            "busybox", "udhcpc", "-i", Lan.Bridge, "-n", "-q", "-f", "-t", "3", "-T", "2", "-s", "/bin/true"));
        Poll.Until(() => SpoofRounds(guest.Console()[Math.Min(mark, guest.Console().Length)..]) >= 3, $"{guest.Name} {where}: three spoofing rounds",
            TimeSpan.FromSeconds(90));
        Lan.WaitAnswers(own.V4, $"{guest.Name} {where}");
        Lan.WaitAnswers(own.V6, $"{guest.Name} {where}");
        Poll.Until(() => capture.Stdout.Any(f => f.Contains(from, StringComparison.Ordinal) && f.Contains("echo reply", StringComparison.Ordinal)),
            $"{where}: the guest's echo replies in the capture on {port}", TimeSpan.FromSeconds(10));
        capture.Stop();
        IReadOnlyList<string> frames = capture.Stdout;
        long dropped = Guards.Dropped(guest.Xml.Uuid) - droppedBefore;
        log.Say($"{where}: {frames.Count} frames captured on {port}, {dropped} dropped by the guard; LAN DHCP client: {dhcp.Stdout.Trim()}");

        var leaked = frames.Where(f => f.Contains(spoof.Mac, StringComparison.OrdinalIgnoreCase)
            || f.Contains($" {spoof.V4} > ", StringComparison.Ordinal) || f.Contains($" {spoof.V4}.", StringComparison.Ordinal)
            || f.Contains($"tell {spoof.Victim}", StringComparison.Ordinal)
            || f.Contains($"Reply {spoof.Victim} is-at {mac}", StringComparison.Ordinal)
            || (f.Contains(from, StringComparison.Ordinal) && f.Contains(".67 > ", StringComparison.Ordinal))).ToList();
        Assert.True(leaked.Count == 0, $"{where}: spoofed frames reached the LAN:\n  {string.Join("\n  ", leaked)}");
        Assert.DoesNotContain("obtained", dhcp.Stdout + dhcp.Stderr, StringComparison.Ordinal);
        Assert.True(dropped > 0, $"{where}: the guard dropped nothing, so the guest's spoofing was never tried");
        Assert.True(frames.Any(f => f.Contains(from, StringComparison.Ordinal)
                && f.Contains("0.0.0.0.68 > 255.255.255.255.67", StringComparison.Ordinal)),
            $"{where}: the guest's DHCP client's DISCOVER did not reach the LAN:\n  {string.Join("\n  ", frames.TakeLast(20))}");
        Assert.True(frames.Any(f => f.Contains(from, StringComparison.Ordinal) && f.Contains($" {own.V4} > ", StringComparison.Ordinal)),
            $"{where}: no IPv4 from the guest's own address reached the LAN:\n  {string.Join("\n  ", frames)}");
        Assert.True(frames.Any(f => f.Contains(from, StringComparison.Ordinal) && f.Contains($" {ownV6} > ", StringComparison.Ordinal)),
            $"{where}: no IPv6 from the guest's own address reached the LAN:\n  {string.Join("\n  ", frames)}");
    }

    private static int SpoofRounds(string console) =>
        console.Split('\n').Count(l => l.Contains("shim-guest: spoof round ", StringComparison.Ordinal));
}
