using System.Text.Json.Nodes;
using System.Xml.Linq;
using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 15, hot-plug with a booted guest (one guest through every step, so it boots twice in all): a NIC plugged with
/// `libvirt-shim attach-interface --live` appears in the guest and answers the LAN through its own MAC;
/// `detach-interface` takes it out of the guest and leaves no link, no name and no metadata; a NIC plugged with `--live
/// --config` is in the definition too, keeps its link and name through a libvirtd restart and a seed, passes traffic on
/// the peer after a live migration, leaves nothing on the peer when the guest is destroyed there (the main host keeps
/// the names its definition uses, for it), and comes back through the hook's `prepare` when the guest starts again from
/// its definition; unplugging it with `--live --config` leaves nothing of it anywhere, and `virsh undefine` gives back
/// the name the definition still held.
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class H1GuestHotplug(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-h1-";
    private const int HotMtu = 1400;
    // Not the usual .10: this host's own eth0 holds 192.0.2.10, and its kernel answered the LAN's ARP for it on the peer's uplink.
    private const int Host = 33;
    private static readonly TimeSpan MigrateTimeout = TimeSpan.FromSeconds(180);

    [Fact]
    public void A_AttachDetachLive_ThenConfig_Migration_Restart()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("h1 booted guest: hot-plug and unplug live, --config, live migration, restart from the definition");
        var bootedNic = new OwnedNic(GuestXml.Mac(0xa0, 1), fixture.Tap(960), LibvirtFixture.Uplink0);
        var booted = new GuestLanNic(bootedNic, Lan.GuestAddress(0, Host));
        var live = new GuestLanNic(new OwnedNic(GuestXml.Mac(0xa0, 2), "", LibvirtFixture.Uplink0), Lan.GuestAddress(1, Host));
        var kept = new GuestLanNic(new OwnedNic(GuestXml.Mac(0xa0, 3), "", LibvirtFixture.Uplink0, Mtu: HotMtu), Lan.GuestAddress(2, Host), HotMtu);
        var guest = new LinuxGuest(fixture, Prefix + "hot", [booted], [live, kept]);
        // Every MAC the guest ever has, for the checks that nothing is left.
        var everything = new GuestXml(guest.Name, [booted.Nic, live.Nic, kept.Nic]) { Uuid = guest.Xml.Uuid };
        using var peer = new PeerHost(fixture);
        try
        {
            guest.Boot(fixture, log);

            // --live: in the running guest only.
            string liveName = Attach(log, guest, live, "--live");
            ExpectLink(guest, live, liveName, LibvirtFixture.Uplink0, LibvirtFixture.Instance);
            ExpectHeld(fixture.Status(), liveName, "created", guest);
            ExpectInXml(fixture.Main.DumpXml(guest.Name), live, liveName, "the running guest's XML");
            ExpectNotInXml(fixture.Main.DumpXml(guest.Name, inactive: true), live, "the definition (attached --live only)");

            Detach(log, guest, live, "--live");
            Assert.Empty(IpLinks.WithMacs([live.Nic.Mac]));
            Assert.False(IpLinks.Exists(liveName), $"{liveName} still exists after detach-interface");
            Assert.Null(fixture.Status().Find(liveName));
            ExpectNotInXml(fixture.Main.DumpXml(guest.Name), live, "the running guest's XML after detach-interface");
            Assert.False(Lan.Answers(live.Address.V4), $"{live.Address.V4} still answers after detach-interface");
            guest.WaitReachable("after the detach", ipv6: false);

            // --live --config, with --mtu: in the definition as well.
            string keptName = Attach(log, guest, kept, "--live", "--config", "--mtu", HotMtu.ToString());
            ExpectLink(guest, kept, keptName, LibvirtFixture.Uplink0, LibvirtFixture.Instance);
            ExpectHeld(fixture.Status(), keptName, "created", guest);
            ExpectInXml(fixture.Main.DumpXml(guest.Name), kept, keptName, "the running guest's XML");
            ExpectInXml(fixture.Main.DumpXml(guest.Name, inactive: true), kept, keptName, "the definition");

            // The hook's reconnect (a libvirtd restart) and a seed treat the plugged NIC like one the guest started with.
            int keptIndex = IpLinks.Find(keptName)!.Index;
            log.Step("daemon restart", fixture.RestartDaemon);
            log.Step("libvirt-shim seed", () => ShimAdmin.Run(fixture, ["seed"]).MustSucceed("libvirt-shim seed"));
            Assert.True(IpLinks.Find(keptName)?.Index == keptIndex, $"{keptName} was replaced by the restart or the seed: {IpLinks.Find(keptName)}");
            ExpectHeld(fixture.Status(), keptName, "created", guest);
            guest.WaitReachable([kept], "after a libvirtd restart and a seed", ipv6: false);

            // Live migration with the hot-plugged NIC; the peer maps the main host's uplink to its own.
            log.Step("peer: start, install the hook, restart",
                () => peer.Start(s => s["Uplinks"] = new JsonObject { [LibvirtFixture.Uplink0] = LibvirtFixture.Uplink1 }));
            log.Step("virsh migrate --live main -> peer", () => fixture.Main.Run(MigrateTimeout, "migrate", "--live", guest.Name, PeerHost.Uri,
                "--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1").MustSucceed($"migrating {guest.Name} to the peer"));
            Assert.True(peer.Virsh.IsActive(guest.Name), $"{guest.Name} on the peer: {peer.Virsh.DomState(guest.Name)}");
            guest.ExpectQemuHoldsItsTaps(peer.Virsh, peer.QemuRunDir);
            string peerName = peer.Virsh.DomIfList(guest.Name).Single(r => r.Mac == kept.Nic.Mac).Interface;
            ExpectLink(guest, kept, peerName, LibvirtFixture.Uplink1, peer.Instance);
            log.Step("both NICs answer on the peer", () => guest.WaitReachable([booted, kept], "on the peer"));
            Assert.Equal(LibvirtFixture.Uplink1 + "p", Lan.PortOf(kept.Nic.Mac));
            ExpectHeld(peer.Status(), peerName, "created", guest);
            Poll.Until(() => MainLinksOf(guest), links => links.Count == 0, $"the main host's links of {guest.Name} to go after the migration");
            // The definition keeps a name (the NIC plugged --config), so its release keeps every name the definition uses.
            string[] definitionNames = [bootedNic.Name, keptName];
            ExpectHeldForDefinition(fixture.Status(), guest, definitionNames);

            log.Step("virsh destroy on the peer", () => peer.Virsh.Destroy(guest.Name).MustSucceed());
            Expect.WaitNothingLeftOf(fixture, everything, peer.Status);
            Assert.Empty(IpLinks.WithMacs(everything.Macs));
            ExpectHeldForDefinition(fixture.Status(), guest, definitionNames);
            peer.Dispose();

            // Started again from the definition: the hook's prepare creates the hot-plugged NIC's link like any other.
            guest.Start(fixture, log);
            log.Step("the NIC plugged --config is configured after the restart", () => guest.WaitNicConfigured(kept, 0));
            log.Step("it answers after the restart", () => guest.WaitReachable([kept], "after the restart"));
            ExpectLink(guest, kept, keptName, LibvirtFixture.Uplink0, LibvirtFixture.Instance);
            ExpectHeld(fixture.Status(), keptName, "created", guest);

            Detach(log, guest, kept, "--live", "--config");
            Assert.Empty(IpLinks.WithMacs([kept.Nic.Mac]));
            Assert.Null(fixture.Status().Find(keptName));
            ExpectNotInXml(fixture.Main.DumpXml(guest.Name), kept, "the running guest's XML after detach-interface --live --config");
            ExpectNotInXml(fixture.Main.DumpXml(guest.Name, inactive: true), kept, "the definition after detach-interface --live --config");
            guest.WaitReachable("after the last detach", ipv6: false);

            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed());
            Poll.Until(() => IpLinks.WithMacs(everything.Macs), links => links.Count == 0, $"{guest.Name}'s links to go after virsh destroy");
            ExpectHeldForDefinition(fixture.Status(), guest, definitionNames[..1]);

            // Undefined, the definition gives back what it held: status says so (changing nothing), seed frees it.
            log.Step("virsh undefine", () => fixture.Main.Run("undefine", guest.Name).MustSucceed());
            ShimStatus undefined = fixture.Status();
            Assert.True(undefined.Of(guest.Xml) is [{ Problem: "definition gone: will be freed at the next allocation or seed" } e]
                && e.Name == definitionNames[0], $"{definitionNames[0]} after virsh undefine: {undefined}");
            log.Step("libvirt-shim seed", () => ShimAdmin.Run(fixture, ["seed"]).MustSucceed("libvirt-shim seed"));
            Expect.NothingLeftOf(everything, fixture.Status(), IpLinks.All());
        }
        catch
        {
            log.Say($"{guest.Name}'s console:\n{guest.Console()}\nits links:\n{Cmd.Run("ip", ["-s", "-d", "link", "show"]).Stdout}" +
                $"\nthe LAN's neighbours:\n{Lan.In("ip", "neigh").Stdout}");
            throw;
        }
        finally
        {
            peer.Dispose();
            fixture.AfterScenario(Prefix);
        }
    }

    /// <summary>
    /// attach-interface for <paramref name="nic"/>: the guest's /init configures it, QEMU holds its macvtap's tap device, and
    /// it answers IPv4 and IPv6 pings from the LAN through its own MAC. Returns the name the hook took.
    /// </summary>
    private string Attach(ScenarioLog log, LinuxGuest guest, GuestLanNic nic, params string[] flags)
    {
        var owned = (OwnedNic)nic.Nic;
        int mark = guest.ConsoleMark();
        string label = $"attach-interface {string.Join(' ', flags)}";
        long logMark = fixture.LogOffset();
        CmdResult attach = log.Step(label, () => ShimAdmin.Run(fixture,
            ["attach-interface", guest.Name, "--source", owned.Source, "--mode", owned.Mode,
            "--mac", owned.Mac, .. flags]));
        Assert.True(attach.Ok, $"{label}: {attach.Describe()}\nhook log:\n{fixture.ShimLogSince(logMark)}");
        string name = ShimAdmin.AttachedName(attach);
        log.Step($"{label}: the guest configures the NIC", () => guest.WaitNicConfigured(nic, mark));
        guest.ExpectQemuHoldsItsTaps(fixture.Main, fixture.QemuRunDir);
        log.Step($"{label}: the NIC answers", () => guest.WaitReachable([nic], $"after {label}"));
        return name;
    }

    /// <summary>detach-interface: the guest sees the NIC go.</summary>
    private void Detach(ScenarioLog log, LinuxGuest guest, GuestLanNic nic, params string[] flags)
    {
        int mark = guest.ConsoleMark();
        string label = $"detach-interface {string.Join(' ', flags)}";
        log.Step(label, () => ShimAdmin.Run(fixture, ["detach-interface", guest.Name, "--mac", nic.Nic.Mac, "--wait", "60", .. flags])
            .MustSucceed($"{label} {guest.Name} {nic.Nic.Mac}"));
        log.Step($"{label}: the guest sees the NIC go", () => guest.WaitNicGone(nic.Nic.Mac, mark));
    }

    /// <summary>The NIC's macvtap as prepare makes it (MAC, mode, lower device, up, alias of the guest and instance), with its MTU.</summary>
    private static void ExpectLink(LinuxGuest guest, GuestLanNic nic, string name, string lower, string instance)
    {
        var owned = (OwnedNic)nic.Nic;
        var one = new GuestXml(guest.Name, [owned with { Name = name, Source = lower }]) { Uuid = guest.Xml.Uuid };
        Dictionary<string, KernelLink> links = IpLinks.ByName();
        Expect.OwnedLinks(one, links, instance);
        if (owned.Mtu is { } mtu) Assert.True(links[name].Mtu == mtu, $"{name}: MTU {links[name].Mtu}, attached with --mtu {mtu}");
    }

    private static void ExpectHeld(ShimStatus status, string name, string heldAs, LinuxGuest guest) =>
        Assert.True(status.Find(name) is { Problem: null } e && e.HeldAs == heldAs && e.Uuid == guest.Xml.Uuid.ToString("D"),
            $"{name} is not held as {heldAs} for {guest.Name}: {status}");

    /// <summary>On the main host the guest holds exactly <paramref name="names"/>, for its definition, without a link.</summary>
    private static void ExpectHeldForDefinition(ShimStatus status, LinuxGuest guest, string[] names)
    {
        var held = status.Of(guest.Xml);
        Assert.True(held.Select(e => e.Name).Order().SequenceEqual(names.Order()) && held.All(e => e.HeldAs == "defined" && e.Ifindex == 0),
            $"the main host should hold {string.Join(", ", names)}, for {guest.Name}'s definition: {status}");
    }

    /// <summary>
    /// The interface (ethernet, target dev NAME managed='no') and its &lt;shim:link&gt; (source, mode, mtu) are in
    /// <paramref name="xml"/>.
    /// </summary>
    private static void ExpectInXml(XDocument xml, GuestLanNic nic, string name, string where)
    {
        var owned = (OwnedNic)nic.Nic;
        XElement? device = ShimAdmin.Interface(xml, owned.Mac);
        XElement? target = device?.Element("target");
        Assert.True(device is not null && (string?)device.Attribute("type") == "ethernet" && (string?)target?.Attribute("dev") == name
            && (string?)target.Attribute("managed") == "no", $"{where}: no ethernet NIC {owned.Mac} on {name}: {device}");
        XElement? link = ShimAdmin.ShimLink(xml, owned.Mac);
        Assert.True(link is not null && (string?)link.Attribute("source") == owned.Source && (string?)link.Attribute("mode") == owned.Mode
            && (string?)link.Attribute("mtu") == owned.Mtu?.ToString(), $"{where}: <shim:link> of {owned.Mac} not as attached: {link}");
    }

    private static void ExpectNotInXml(XDocument xml, GuestLanNic nic, string where)
    {
        Assert.True(ShimAdmin.Interface(xml, nic.Nic.Mac) is null, $"{where} still has NIC {nic.Nic.Mac}");
        Assert.True(ShimAdmin.ShimLink(xml, nic.Nic.Mac) is null, $"{where} still has the <shim:link> of {nic.Nic.Mac}");
    }

    private static List<KernelLink> MainLinksOf(LinuxGuest guest) =>
        IpLinks.All().Where(l => l.Alias == $"libvirt-shim:{guest.Xml.Uuid:D}@{LibvirtFixture.Instance}").ToList();
}
