using System.Text.Json.Nodes;
using System.Xml.Linq;
using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 4, scenario 6: live migration to a second libvirtd (scripts/libvirt-peer.sh) with its own hook and settings.
/// Both daemons share one kernel: host A's uplink is e2e-up0, host B's e2e-up1, and every arrival needs new names
/// (the source's links still exist when the destination prepares). The destination's "migrate begin" call must
/// rewrite the XML: owned NICs onto free names and the local uplink, direct NICs' source dev mapped.
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class S6LiveMigration(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-s6-";
    private static readonly TimeSpan MigrateTimeout = TimeSpan.FromSeconds(180);
    private static readonly XNamespace Shim = "urn:libvirt-shim:macvtap:1";

    [Fact]
    public void A_ThereAndBack_NamesAndUplinksFollow_SourceReleasesEverything()
    {
        fixture.Require();
        using var peer = new PeerHost(fixture);
        ThereAndBack(peer, "6a live migration main -> peer -> main");
    }

    /// <summary>The same between this host's libvirt 9.0 / QEMU 7.2 and libvirt 11.3 / QEMU 10.0 (scripts/libvirt-next.sh), both ways.</summary>
    [Fact]
    public void C_ToLibvirtNextAndBack_NamesAndUplinksFollow()
    {
        fixture.Require();
        if (fixture.NotApplicable(fixture.Daemon.InTree,
            "6c: its daemon is libvirt-next itself, and 6a migrated it to and from this host's libvirt")) return;
        using var peer = new NextPeer(fixture);
        ThereAndBack(peer, "6c live migration main -> libvirt-next -> main (mixed versions)");
    }

    private void ThereAndBack(IMigrationPeer peer, string title)
    {
        using ScenarioLog log = fixture.Scenario(title);
        var guest = new GuestXml(Prefix + "mig", [
            new OwnedNic(GuestXml.Mac(0x60, 1), fixture.Tap(600), LibvirtFixture.Uplink0, "bridge"),
            new OwnedNic(GuestXml.Mac(0x60, 2), fixture.Tap(601), LibvirtFixture.Uplink0, "vepa"),
            new DirectNic(GuestXml.Mac(0x60, 3), LibvirtFixture.Uplink0, "bridge"),
        ]);
        string directMac = GuestXml.Mac(0x60, 3);
        try
        {
            log.Step("peer: start, install the hook, restart",
                () => peer.Start(s => s["Uplinks"] = new JsonObject { [LibvirtFixture.Uplink0] = LibvirtFixture.Uplink1 }));
            log.Say($"main: {fixture.Versions}; peer: {peer.Versions}");
            fixture.WriteSettings(s => s["Uplinks"] = new JsonObject { [LibvirtFixture.Uplink1] = LibvirtFixture.Uplink0 });
            fixture.Main.Define(guest);
            log.Step("virsh start (main)", () => fixture.Main.Start(guest.Name).MustSucceed($"virsh start {guest.Name}"));
            Expect.OwnedLinks(guest, IpLinks.ByName(), LibvirtFixture.Instance);

            // ---- main -> peer
            long mainMark = fixture.LogOffset();
            CmdResult there = log.Step("virsh migrate --live main -> peer", () => fixture.Main.Run(MigrateTimeout,
                "migrate", "--live", guest.Name, peer.Virsh.Uri, "--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1"));
            Assert.True(there.Ok, $"migration main -> peer failed: {there.Describe()}\npeer hook log:\n{peer.ShimLog()}");
            Assert.True(peer.Virsh.IsActive(guest.Name), $"{guest.Name} on the peer: {peer.Virsh.DomState(guest.Name)}");
            Assert.False(fixture.Main.IsActive(guest.Name), $"{guest.Name} still active on main: {fixture.Main.DomState(guest.Name)}");

            Dictionary<string, IfListRow> onPeer = peer.Virsh.DomIfList(guest.Name).ToDictionary(r => r.Mac);
            log.Say("on the peer: " + string.Join(", ", onPeer.Values.Select(r => $"{r.Mac}={r.Interface}({r.Source})")));
            ArrivedOnFreeNames(guest, onPeer, previous: guest.Owned.ToDictionary(n => n.Mac, n => n.Name), peer.NamePrefix);
            Assert.Equal(LibvirtFixture.Uplink1, onPeer[directMac].Source);
            var links = IpLinks.ByName();
            Expect.OwnedLinks(guest, links, peer.Instance, nameOf: n => onPeer[n.Mac].Interface, lowerOf: _ => LibvirtFixture.Uplink1);
            Assert.Equal(LibvirtFixture.Uplink1, links[onPeer[directMac].Interface].Lower);
            MetadataSources(peer.Virsh.DumpXml(guest.Name), guest, LibvirtFixture.Uplink1);

            // The source released everything: no record of the guest on main, none of its links left on main's uplink.
            SourceReleased(fixture.Status, guest, LibvirtFixture.Uplink0, LibvirtFixture.Instance);
            ShimStatus peerStatus = peer.Status();
            foreach (OwnedNic nic in guest.Owned)
            {
                StatusEntry? e = peerStatus.Find(onPeer[nic.Mac].Interface);
                Assert.True(e is { HeldAs: "created", Problem: null } && e.Domain == guest.Name && e.Lower == LibvirtFixture.Uplink1,
                    $"peer status for {onPeer[nic.Mac].Interface}: {peerStatus}");
            }
            Assert.True(peerStatus.Find(onPeer[directMac].Interface) is { HeldAs: "libvirt" }, $"peer status for the direct NIC: {peerStatus}");
            log.Say($"main hook log:\n{fixture.ShimLogSince(mainMark)}");

            // ---- peer -> main
            CmdResult back = log.Step("virsh migrate --live peer -> main", () => peer.Virsh.Run(MigrateTimeout,
                "migrate", "--live", guest.Name, fixture.Main.Uri, "--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1"));
            Assert.True(back.Ok, $"migration peer -> main failed: {back.Describe()}\nmain hook log:\n{fixture.ShimLogSince(mainMark)}");
            Assert.True(fixture.Main.IsActive(guest.Name), $"{guest.Name} on main: {fixture.Main.DomState(guest.Name)}");
            Assert.DoesNotContain(guest.Name, peer.Virsh.Names(all: true));

            Dictionary<string, IfListRow> onMain = fixture.Main.DomIfList(guest.Name).ToDictionary(r => r.Mac);
            log.Say("back on main: " + string.Join(", ", onMain.Values.Select(r => $"{r.Mac}={r.Interface}({r.Source})")));
            ArrivedOnFreeNames(guest, onMain, previous: onPeer.ToDictionary(p => p.Key, p => p.Value.Interface), fixture.Daemon.NamePrefix);
            Assert.Equal(LibvirtFixture.Uplink0, onMain[directMac].Source);
            links = IpLinks.ByName();
            Expect.OwnedLinks(guest, links, LibvirtFixture.Instance, nameOf: n => onMain[n.Mac].Interface, lowerOf: _ => LibvirtFixture.Uplink0);
            Assert.Equal(LibvirtFixture.Uplink0, links[onMain[directMac].Interface].Lower);
            SourceReleased(peer.Status, guest, LibvirtFixture.Uplink1, peer.Instance);

            log.Step("virsh destroy (main)", () => fixture.Main.Destroy(guest.Name).MustSucceed());
            Expect.WaitNothingLeftOf(fixture, guest);

            // Both hosts clean: not only nothing of the guest, but nothing the status calls a problem.
            ShimStatus mainEnd = fixture.Status(), peerEnd = peer.Status();
            Assert.True(mainEnd.WithProblems.Count == 0 && peerEnd.WithProblems.Count == 0,
                $"after the round trip, status reports problems (exit codes: main {mainEnd.ExitCode}, peer {peerEnd.ExitCode}). " +
                "Each host recorded the other instance's links on managed names as 'foreign' (seeding on the peer's first call; " +
                "FreeNames on the way back); those links are gone now, but no hook call drops the records, only `libvirt-shim seed` does." +
                $"\nmain: {mainEnd}\npeer: {peerEnd}");
        }
        finally
        {
            peer.Dispose();
            fixture.AfterScenario(Prefix);
            fixture.WriteSettings();
        }
    }

    [Fact]
    public void B_ToAHostWithoutMapping_FailsWithTheHookMessage_BothStayClean()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("6b live migration to a host without an uplink mapping fails");
        var guest = new GuestXml(Prefix + "nomap", [
            new OwnedNic(GuestXml.Mac(0x61, 1), fixture.Tap(610), LibvirtFixture.Uplink0, "bridge"),
            new DirectNic(GuestXml.Mac(0x61, 2), LibvirtFixture.Uplink0, "bridge"),
        ]);
        using var peer = new PeerHost(fixture);
        try
        {
            // The peer allows only its own uplink and maps nothing.
            log.Step("peer: start, install the hook, restart", () => peer.Start());
            fixture.Main.Define(guest);
            fixture.Main.Start(guest.Name).MustSucceed($"virsh start {guest.Name}");
            ShimStatus before = fixture.Status();

            CmdResult migrate = log.Step("virsh migrate --live main -> peer (must fail)", () => fixture.Main.Run(MigrateTimeout,
                "migrate", "--live", guest.Name, peer.Virsh.Uri, "--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1"));
            Assert.False(migrate.Ok, $"the migration should fail: {migrate.Describe()}");
            string message = Expect.HookMessage(migrate, guest.Name);
            log.Say($"hook message: {message}");
            Assert.Matches($"^libvirt-shim: domain '{guest.Name}': NIC {GuestXml.Mac(0x61, 1)} \\({fixture.Tap(610)}\\): \\S.*$", message);
            Assert.Contains(LibvirtFixture.Uplink0, message);

            // Host A: the guest still runs on its links, the state unchanged. Host B: nothing.
            Assert.True(fixture.Main.IsActive(guest.Name), $"{guest.Name} on main after the failed migration: {fixture.Main.DomState(guest.Name)}");
            Expect.OwnedLinks(guest, IpLinks.ByName(), LibvirtFixture.Instance);
            ShimStatus after = fixture.Status();
            Assert.Equal(before.Of(guest).Select(e => e.ToString()).Order(), after.Of(guest).Select(e => e.ToString()).Order());
            Assert.DoesNotContain(guest.Name, peer.Virsh.Names(all: true));
            Assert.DoesNotContain(IpLinks.All(), l => l.Alias == $"libvirt-shim:{guest.Uuid:D}@{peer.Instance}");
            ShimStatus peerStatus = peer.Status();
            Assert.True(peerStatus.Of(guest).Count == 0, $"the peer keeps records of {guest.Name}: {peerStatus}");

            fixture.Main.Destroy(guest.Name).MustSucceed();
            Expect.WaitNothingLeftOf(fixture, guest);
            ShimStatus peerEnd = peer.Status();
            Assert.True(peerEnd.Of(guest).Count == 0, $"peer: {peerEnd}");
        }
        finally
        {
            peer.Dispose();
            fixture.AfterScenario(Prefix);
        }
    }

    /// <summary>
    /// Each owned NIC runs under a managed name of the destination (<paramref name="prefix"/>N, N below 8192), all distinct,
    /// none of them the name it had on the host it came from (that host's link still existed when the destination
    /// prepared, in the one shared kernel).
    /// </summary>
    internal static void ArrivedOnFreeNames(GuestXml guest, Dictionary<string, IfListRow> rows, Dictionary<string, string> previous, string prefix)
    {
        var names = new List<string>();
        foreach (OwnedNic nic in guest.Owned)
        {
            Assert.True(rows.TryGetValue(nic.Mac, out IfListRow? row), $"no NIC with MAC {nic.Mac} on arrival");
            Assert.Matches($"^{prefix}([0-9]|[1-9][0-9]{{1,3}})$", row.Interface);
            Assert.True(int.Parse(row.Interface[prefix.Length..]) < 8192);
            Assert.True(row.Interface != previous[nic.Mac], $"{nic.Mac} arrived as {row.Interface}, the name its source link still had");
            Assert.Equal("ethernet", row.Type);
            names.Add(row.Interface);
        }
        Assert.Equal(names.Count, names.Distinct().Count());
    }

    /// <summary>Each shim:link in the running XML names <paramref name="lower"/> as its source.</summary>
    private static void MetadataSources(XDocument xml, GuestXml guest, string lower)
    {
        var sources = xml.Descendants(Shim + "link").ToDictionary(l => ((string?)l.Attribute("mac") ?? "").ToLowerInvariant(),
            l => (string?)l.Attribute("source"));
        foreach (OwnedNic nic in guest.Owned)
            Assert.True(sources.GetValueOrDefault(nic.Mac) == lower,
                $"shim:link of {nic.Mac}: source '{sources.GetValueOrDefault(nic.Mac)}', expected '{lower}'");
    }

    /// <summary>
    /// The host the guest left keeps nothing of it (bounded wait: the source's release comes after the migration
    /// completes): no status entry, no link of the guest's on that host's uplink, no link carrying that instance's mark.
    /// The guest's MACs do exist, on the destination's uplink.
    /// </summary>
    private static void SourceReleased(Func<ShimStatus> status, GuestXml guest, string sourceUplink, string sourceInstance)
    {
        var macs = guest.Macs.ToHashSet();
        string alias = $"libvirt-shim:{guest.Uuid:D}@{sourceInstance}";
        Poll.Until(() =>
            {
                var entries = status().Of(guest);
                var links = IpLinks.All().Where(l => (macs.Contains(l.Mac) && l.Lower == sourceUplink) || l.Alias == alias).ToList();
                return entries.Count == 0 && links.Count == 0 ? null : $"status: [{string.Join("; ", entries)}]; links: [{string.Join("; ", links)}]";
            },
            left => left is null, $"the source ({sourceInstance}) to release everything of {guest.Name}", TimeSpan.FromSeconds(20));
    }
}
