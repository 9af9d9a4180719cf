using System.Text.Json.Nodes;
using System.Xml.Linq;
using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 21: links that follow the guest's vCPUs, measured against libvirt's own NICs. A booted guest with one owned NIC and one
/// libvirt `direct` NIC on the same uplink migrates slowly (capped at 2 MiB/s for 10 s, then uncapped, or switched to post-copy)
/// while the LAN host, a neighbour on the destination's uplink and a neighbour on the source's uplink (bridge-mode macvlans,
/// standing for co-located guests) ping each NIC every 20 ms; both hosts run the listener (libvirt-shim watch). Each neighbour
/// must lose no more than the LAN host (+10 pings), and the LAN host no more over the owned NIC than over the direct one.
/// Also: post-copy, a migration that fails on the destination after its prepare (the guest that stays loses at most 3 of 300
/// pings, and no frame with its MACs leaves the destination), and the destination's listener killed during the migration and
/// restarted after it (the guest reachable within 1 s of the restart). The figures go to the timings file ("neighbour figures").
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class N1NeighboursDuringMigration(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-n1-";
    // Not .10: this host's own eth0 may hold 192.0.2.10 (see H1).
    private const int GuestHost = 40;
    private const int Slack = 10;

    /// <summary>
    /// The issue's bound is 0; this is not it, and docs/listener.md says why. The owned link can only come up once libvirt says the
    /// vCPUs run (its resume event follows QEMU's `cont`): 0.3-16 ms after libvirt's direct NIC, which libvirt brings up just before
    /// `cont` (the listener repeats QEMU's announce as it does). And the two NICs' losses are counted by two flows of their own,
    /// each in whole 20 ms pings, answered by a TCG guest in its own time. Over 19 measured migrations (both daemons, both ways,
    /// across versions, post-copy) the LAN host lost over the owned NIC 1 fewer ping than over the direct one once, as many 13
    /// times, 1 more 4 times and 2 more once.
    /// </summary>
    private const int AnnounceAllowance = 2;
    private static readonly TimeSpan MigrateTimeout = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan RestartBound = TimeSpan.FromSeconds(1);

    [Fact]
    public void A_SlowMigrationThereAndBack_NeighboursLoseNoMoreThanTheLan()
    {
        fixture.Require();
        using var peer = new PeerHost(fixture);
        OnTheLan(peer, "n1 booted guest: slow live migration main -> peer -> main, LAN and neighbours pinging owned and direct NICs",
            "mig", 0x93, 930, ThereAndBack);
    }

    [Fact]
    public void B_ToLibvirtNextAndBack_NeighboursLoseNoMoreThanTheLan()
    {
        fixture.Require();
        if (fixture.NotApplicable(fixture.Daemon.InTree,
            "n1b: its daemon is libvirt-next itself, and A migrated it to and from this host's libvirt")) return;
        using var peer = new NextPeer(fixture);
        OnTheLan(peer, "n1b booted guest: slow live migration main -> libvirt-next -> main (mixed versions), LAN and neighbours pinging",
            "mixed", 0x93, 930, ThereAndBack);
    }

    [Fact]
    public void C_PostCopyThere_ThenBackWithTheListenerKilledAndRestarted()
    {
        fixture.Require();
        using var peer = new PeerHost(fixture);
        OnTheLan(peer, "n1c booted guest: post-copy main -> peer; back with main's listener killed mid-migration", "postcopy", 0x94, 940,
            PostCopyThereThenBackWithoutTheListener);
    }

    [Fact]
    public void D_AMigrationThatFailsOnTheDestinationAfterPrepare_CostsTheGuestThatStaysNothing()
    {
        fixture.Require();
        using var peer = new PeerHost(fixture);
        OnTheLan(peer, "n1d booted guest: a migration to the peer fails after the peer's prepare", "fails", 0x95, 950, FailingMigration);
    }

    private void ThereAndBack(ScenarioLog log, Stage stage)
    {
        ExpectStatusClean("main", fixture.Status());
        NeighbourFigures there = Measure(log, stage.Guest, stage.Owned, stage.Direct, Main(), Peer(stage.Peer), stage.AtPeer, stage.AtMain,
            Switchover.Uncapped);
        ExpectStatusClean(stage.Peer.Name, stage.Peer.Status());
        NeighbourFigures back = Measure(log, stage.Guest, stage.Owned, stage.Direct, Peer(stage.Peer), Main(), stage.AtMain, stage.AtPeer,
            Switchover.Uncapped);
        ExpectStatusClean("main", fixture.Status());
        ExpectBounds(there);
        ExpectBounds(back);
    }

    /// <summary>
    /// Post-copy main -> peer, measured; then back with main's listener killed once main's prepare has created the link (down):
    /// the switchover finds nobody to bring it up, so the guest arrives unreachable over it, and the restarted listener's reconcile
    /// must make it reachable within a second.
    /// </summary>
    private void PostCopyThereThenBackWithoutTheListener(ScenarioLog log, Stage stage)
    {
        var (guest, owned, direct) = (stage.Guest, stage.Owned, stage.Direct);
        NeighbourFigures there = Measure(log, guest, owned, direct, Main(), Peer(stage.Peer), stage.AtPeer, stage.AtMain, Switchover.PostCopy);

        using var events = new EventLog(("main", fixture.Main));
        using var lan = new PingFlow("LAN host -> owned NIC", Lan.Namespace, owned.Address.V4);
        lan.WaitAnswers(10, "before the migration back");
        var back = new SlowMigration(stage.Peer.Virsh, guest.Name, fixture.Main, Switchover.Uncapped);
        KernelLink? arrived = null;
        CmdResult result = log.Step("virsh migrate --live peer -> main, capped, main's listener killed", () => back.Run(() =>
        {
            arrived = Poll.Until(() => ArrivingLink(owned, LibvirtFixture.Uplink0), l => l is not null,
                "main's prepare to create the owned NIC's link", SlowMigration.CappedFor);
            stage.MainListener.Kill();
        }));
        Assert.False(arrived!.AdminUp, $"{arrived}: main's listener ran, so prepare must have created it down");
        string ownedName = arrived.Name;
        result.MustSucceed("migration peer -> main");
        Assert.True(fixture.Main.IsActive(guest.Name), $"{guest.Name} on main: {fixture.Main.DomState(guest.Name)}");
        KernelLink stillDown = IpLinks.Find(ownedName)!;
        Assert.False(stillDown.AdminUp, $"{stillDown}: up without a listener to bring it up");
        Assert.False(Lan.Answers(owned.Address.V4), $"{owned.Address.V4} answers over a link that is down");

        stage.MainListener.Restart();
        DateTimeOffset restarted = stage.MainListener.StartedAt;
        lan.WaitAnswers(10, "after main's listener restarted");
        DateTimeOffset? up = events.Links(ownedName).LastOrDefault(c => c.Up)?.At;
        DateTimeOffset? answered = lan.FirstReplyAfter(restarted);
        string figures = $"peer -> main with main's listener killed mid-migration: migrate {back.Seconds:0.0}s; after the restart: " +
            $"link up {Ms(restarted, up)}, first ping answered {Ms(restarted, answered)} (listener connected and reconciled after " +
            $"{stage.MainListener.StartToReconciled.TotalMilliseconds:0} ms); LAN flow {lan.Stop()}";
        log.Say(figures);
        fixture.Timings.Add("neighbour figures, " + figures);
        Assert.True(up is { } u && u - restarted <= RestartBound, $"the link came up {Ms(restarted, up)} after the restart");
        Assert.True(answered is { } a && a - restarted <= RestartBound, $"the guest answered {Ms(restarted, answered)} after the restart");
        ExpectStatusClean("main", fixture.Status());
        ExpectBounds(there);
    }

    /// <summary>A migration to the peer whose QEMU cannot start there (a kernel it cannot open), after the peer's prepare made the link.</summary>
    private void FailingMigration(ScenarioLog log, Stage stage)
    {
        var (guest, owned, direct) = (stage.Guest, stage.Owned, stage.Direct);
        XDocument xml = XDocument.Parse(fixture.Main.Run("dumpxml", "--migratable", guest.Name).MustSucceed("virsh dumpxml --migratable").Stdout);
        xml.Root!.Element("os")!.Element("kernel")!.Value = Path.Combine(fixture.WorkDir, "no-such-kernel");
        string file = Path.Combine(fixture.WorkDir, guest.Name + "-unbootable.xml");
        File.WriteAllText(file, xml.ToString());
        int peerLog = stage.Peer.ShimLog().Length;
        using var capture = new FrameCapture(LibvirtFixture.Uplink1 + "p", owned.Nic.Mac, direct.Nic.Mac);
        using var stays = new PingFlow("LAN host -> owned NIC", Lan.Namespace, owned.Address.V4, count: 300);
        using var stays2 = new PingFlow("LAN host -> direct NIC", Lan.Namespace, direct.Address.V4, count: 300);
        using var neighbour = new PingFlow("neighbour on the destination's uplink -> owned NIC", stage.AtPeer.Netns, owned.Address.V4, count: 300);
        stays.WaitAnswers(10, "before the migration");
        CmdResult failed = log.Step("virsh migrate --live main -> peer (fails there)", () => fixture.Main.Run(MigrateTimeout, "migrate", "--live",
            guest.Name, stage.Peer.Virsh.Uri, "--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1", "--xml", file));
        Assert.False(failed.Ok, $"the migration should have failed: {failed.Describe()}");
        Poll.Until(() => stays.HasExited && stays2.HasExited && neighbour.HasExited, "the 300-ping flows to end", TimeSpan.FromSeconds(60));
        FlowFigures[] flows = [stays.Stop(), stays2.Stop(), neighbour.Stop()];
        capture.Stop();
        string peerHook = stage.Peer.ShimLog()[peerLog..];

        string figures = $"main -> peer failing on the peer after its prepare: {string.Join("; ", flows.Select(f => f.ToString()))}; " +
            $"frames with the guest's MACs from the peer's port: {capture.Frames.Count}";
        log.Say(figures + "\n  " + failed.Stderr.Trim());
        fixture.Timings.Add("neighbour figures, " + figures);
        Assert.Contains("prepare " + guest.Name, peerHook);
        Assert.Contains("down until the guest's vCPUs run", peerHook);
        Assert.All(flows, f => Assert.True(f.Sent == 300 && f.Lost <= 3, $"{f}: the guest that stays lost more than 3 of 300"));
        Assert.True(capture.Frames.Count == 0, $"frames with the guest's MACs left the peer:\n  {string.Join("\n  ", capture.Frames)}");
        Assert.True(fixture.Main.IsActive(guest.Name), $"{guest.Name} on main: {fixture.Main.DomState(guest.Name)}");
        Assert.DoesNotContain(IpLinks.WithMacs([owned.Nic.Mac]), l => l.Lower == LibvirtFixture.Uplink1);
        ExpectStatusClean("main", fixture.Status());
        ExpectStatusClean("peer", stage.Peer.Status());
    }

    /// <summary>Everything a scenario stands on: the peer, both listeners, a neighbour on each uplink, and the booted guest.</summary>
    private sealed record Stage(IMigrationPeer Peer, LinuxGuest Guest, GuestLanNic Owned, GuestLanNic Direct, ShimListener MainListener,
        Neighbour AtMain, Neighbour AtPeer);

    /// <summary>
    /// Sets the stage (the peer started with the uplink mapping, both listeners, the neighbours, the guest booted on main), runs
    /// <paramref name="body"/>, which leaves the guest on main, then destroys it there and checks nothing is left; cleans up whatever happens.
    /// </summary>
    private void OnTheLan(IMigrationPeer peer, string title, string name, int macGroup, int tap, Action<ScenarioLog, Stage> body)
    {
        using ScenarioLog log = fixture.Scenario(title);
        var (guest, owned, direct) = Guest(name, macGroup, tap);
        try
        {
            StartPeer(log, peer);
            using ShimListener mainListener = fixture.StartListener();
            using ShimListener peerListener = peer.StartListener();
            using Neighbour atMain = Neighbour.Create(0, LibvirtFixture.Uplink0, 50);
            using Neighbour atPeer = Neighbour.Create(1, LibvirtFixture.Uplink1, 51);
            guest.Boot(fixture, log, ipv6: false);
            body(log, new Stage(peer, guest, owned, direct, mainListener, atMain, atPeer));
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

    /// <summary>The guest: an owned NIC on subnet 0 and a libvirt direct NIC on subnet 1, both bridge mode on the main host's uplink.</summary>
    private (LinuxGuest Guest, GuestLanNic Owned, GuestLanNic Direct) Guest(string name, int macGroup, int tap)
    {
        var owned = new GuestLanNic(new OwnedNic(GuestXml.Mac(macGroup, 1), fixture.Tap(tap), LibvirtFixture.Uplink0),
            Lan.GuestAddress(0, GuestHost));
        var direct = new GuestLanNic(new DirectNic(GuestXml.Mac(macGroup, 2), LibvirtFixture.Uplink0), Lan.GuestAddress(1, GuestHost));
        return (new LinuxGuest(fixture, Prefix + name, [owned, direct]), owned, direct);
    }

    private void StartPeer(ScenarioLog log, IMigrationPeer peer)
    {
        log.Step("peer: start, install the hook, restart",
            () => peer.Start(s => s["Uplinks"] = new JsonObject { [LibvirtFixture.Uplink0] = LibvirtFixture.Uplink1 }));
        log.Say($"main: {fixture.Versions}; peer: {peer.Versions}");
        fixture.Timings.Add($"n1 migrations: main {fixture.Versions}; {peer.Name} {peer.Versions}");
        fixture.WriteSettings(s => s["Uplinks"] = new JsonObject { [LibvirtFixture.Uplink1] = LibvirtFixture.Uplink0 });
    }

    /// <summary>A host of the migration: its daemon, where QEMU's pid files are, and its hook's log (the listener logs there too).</summary>
    private sealed record Host(string Name, Virsh Virsh, string QemuRunDir, Func<string> Log);

    private Host Main() => new("main", fixture.Main, fixture.QemuRunDir, () => fixture.ShimLogSince(0));

    private static Host Peer(IMigrationPeer peer) => new(peer.Name, peer.Virsh, peer.QemuRunDir, peer.ShimLog);

    /// <summary>One slow migration under the six flows, with its events and link changes; the guest's tap devices checked after it.</summary>
    private NeighbourFigures Measure(ScenarioLog log, LinuxGuest guest, GuestLanNic owned, GuestLanNic direct, Host from, Host to,
        Neighbour atDestination, Neighbour atSource, Switchover switchover)
    {
        string direction = $"{from.Name} -> {to.Name}{(switchover == Switchover.PostCopy ? " (post-copy)" : "")}";
        (string Owned, string Direct) source = Links(from.Virsh, guest, owned, direct);
        (int fromLog, int toLog) = (from.Log().Length, to.Log().Length);
        log.Say($"/dev/tap nodes of other namespaces set aside: {TapNodes.MakeRoom()}");
        using var watch = new NeighbourWatch(direction, owned, direct, atDestination, atSource, (from.Name, from.Virsh), (to.Name, to.Virsh));
        var migration = new SlowMigration(from.Virsh, guest.Name, to.Virsh, switchover);
        log.Step($"virsh migrate --live {direction}, capped for {SlowMigration.CappedFor.TotalSeconds:0} s", () => migration.Run())
            .MustSucceed($"migration {direction}");
        Assert.True(to.Virsh.IsActive(guest.Name), $"{guest.Name} on {to.Name}: {to.Virsh.DomState(guest.Name)}");
        guest.ExpectQemuHoldsItsTaps(to.Virsh, to.QemuRunDir);
        (string Owned, string Direct) destination = Links(to.Virsh, guest, owned, direct);
        NeighbourFigures figures = watch.Finish(guest.Name, migration.Seconds, source, destination,
            Since(from.Log(), fromLog) + Since(to.Log(), toLog));
        log.Say(figures.Summary() + "\n  " + figures.Timeline());
        fixture.Timings.Add("neighbour figures, " + figures.Summary());
        fixture.Timings.Add($"  events and link changes, {direction}:\n  " + figures.Timeline());

        // The arriving owned link was created down and came up only once the vCPUs ran there; the source's went down at its switchover.
        LinkChangeSeen? first = figures.LinkChanges.FirstOrDefault(c => c.Name == destination.Owned);
        Assert.True(first is { Up: false },
            $"{direction}: the destination's owned link {destination.Owned} was not created down: {figures.Timeline()}");
        Assert.True(figures.EventToUpMs is not null,
            $"{direction}: the destination's owned link never came up after its resume: {figures.Timeline()}");
        Assert.True(figures.EventToDownMs is not null, $"{direction}: the source's owned link never went down at its suspend: {figures.Timeline()}");
        return figures;
    }

    /// <summary>
    /// The issue's bounds: each neighbour no more than the LAN host + 10 pings; the LAN host no more over the owned NIC than over the
    /// direct one, but for <see cref="AnnounceAllowance"/>.
    /// </summary>
    private static void ExpectBounds(NeighbourFigures f)
    {
        string all = f.Summary();
        Assert.True(f.Owned.DestinationNeighbour.Lost <= f.Owned.Lan.Lost + Slack,
            $"{f.Direction}: the destination's neighbour lost too many: {all}");
        Assert.True(f.Owned.SourceNeighbour.Lost <= f.Owned.Lan.Lost + Slack, $"{f.Direction}: the source's neighbour lost too many: {all}");
        Assert.True(f.Owned.Lan.Lost <= f.Direct.Lan.Lost + AnnounceAllowance,
            $"{f.Direction}: the LAN host lost more over the owned NIC than over the direct one (+{AnnounceAllowance}): {all}");
    }

    /// <summary>The guest's owned and direct links on one host (virsh domiflist).</summary>
    private static (string Owned, string Direct) Links(Virsh virsh, LinuxGuest guest, GuestLanNic owned, GuestLanNic direct)
    {
        List<IfListRow> rows = virsh.DomIfList(guest.Name);
        return (rows.Single(r => r.Mac == owned.Nic.Mac).Interface, rows.Single(r => r.Mac == direct.Nic.Mac).Interface);
    }

    /// <summary>The macvtap with the NIC's MAC on <paramref name="lower"/>, once there is one.</summary>
    private static KernelLink? ArrivingLink(GuestLanNic nic, string lower) =>
        IpLinks.WithMacs([nic.Nic.Mac]).FirstOrDefault(l => l.IsMacvtap && l.Lower == lower);

    private static void ExpectStatusClean(string host, ShimStatus status) =>
        Assert.True(status.ExitCode == 0, $"status on {host} after the migration: {status.Show()}");

    private static string Since(string log, int mark) => mark <= log.Length ? log[mark..] : log;

    private static string Ms(DateTimeOffset from, DateTimeOffset? to) => to is { } t ? $"{(t - from).TotalMilliseconds:0} ms" : "never";
}
