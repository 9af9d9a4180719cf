using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Model;

namespace LibvirtShim.Soak.World;

/// <summary>
/// The machine the run drives: the end-to-end fixture's daemon (this host's libvirt 9.0, the hook installed, the LAN, the
/// uplink veths) as <see cref="Site.Main"/>, and libvirt 11.3 of scripts/libvirt-next.sh as <see cref="Site.Next"/>,
/// each mapping the other's uplink to its own (Uplinks), each with the hook wrapper of <see cref="HookFaults"/>.
/// </summary>
public sealed class SoakWorld : IDisposable
{
    private readonly NextPeer _next;
    private readonly Dictionary<string, LinuxGuest> _linux = [];
    private readonly Dictionary<Site, ShimListener> _listeners = [];
    private readonly List<PosixSignalRegistration> _signals = [];

    private SoakWorld(LibvirtFixture fixture, NextPeer next, IReadOnlyList<GuestSpec> fleet)
    {
        Fixture = fixture;
        _next = next;
        Fleet = fleet;
        Main = new SoakSite(Site.Main, fixture, fixture.Main, fixture.Daemon, LibvirtFixture.Uplink0, LibvirtFixture.Instance, fixture.Status);
        Next = new SoakSite(Site.Next, fixture, next.Virsh, DaemonUnderTest.Next, LibvirtFixture.Uplink1, NextPeer.NextInstance, next.Status);
        foreach (GuestSpec guest in fleet.Where(g => g.Booted)) _linux[guest.Name] = NewLinuxGuest(guest);
    }

    public LibvirtFixture Fixture { get; }
    public IReadOnlyList<GuestSpec> Fleet { get; }
    public SoakSite Main { get; }
    public SoakSite Next { get; }
    public HookFaults Faults { get; } = new();
    public Features Features { get; private set; } = Features.None;

    public SoakSite this[Site site] => site == Site.Main ? Main : Next;

    /// <summary>
    /// Starts libvirt-next with the hook, maps each host's uplink name to the other's, puts the hook wrappers in place,
    /// removes guests of an earlier run and starts both hook states afresh (the suite's own state directories), seeded. The fixture has set up this host's daemon, the LAN and the veths.
    /// </summary>
    public static SoakWorld Open(LibvirtFixture fixture, IReadOnlyList<GuestSpec> fleet)
    {
        var next = new NextPeer(fixture);
        var world = new SoakWorld(fixture, next, fleet);
        try
        {
            fixture.WriteSettings(s => Settings(s, LibvirtFixture.Uplink1, LibvirtFixture.Uplink0));
            next.Start(s => Settings(s, LibvirtFixture.Uplink0, LibvirtFixture.Uplink1));
            world.Next.Virsh.RemoveGuests(Model.Fleet.Prefix);
            if (world.TreeLogsMissWorkDir())
            {
                // Its virtlogd outlived a restart while guests of an earlier run ran there: without guests it restarts too.
                next.Start(s => Settings(s, LibvirtFixture.Uplink0, LibvirtFixture.Uplink1));
                if (world.TreeLogsMissWorkDir())
                    throw new InvalidOperationException($"libvirt-next's virtlogd does not see {fixture.WorkDir}: booted guests' consoles would be lost");
            }
            foreach (SoakSite site in world.Sites)
            {
                site.Virsh.RemoveGuests(Model.Fleet.Prefix);
                world.Faults.Install(site);
                // The suite's own state directory (not the host's): what an earlier run left does not count against this one.
                string state = site.HostPath(LibvirtFixture.StateDirFile);
                if (Directory.Exists(state)) Directory.Delete(state, recursive: true);
                site.Shim(["seed"]).MustSucceed($"{site.Label}: libvirt-shim seed");
            }
            world.Features = world.DetectFeatures();
            if (world.Features.Listener)
            {
                world._listeners[Site.Main] = fixture.StartListener();
                world._listeners[Site.Next] = next.StartListener();
                // A run stopped with SIGTERM or SIGINT (the test platform raises no ProcessExit) stops them too.
                foreach (PosixSignal signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT })
                    world._signals.Add(PosixSignalRegistration.Create(signal, _ => world.StopListeners()));
            }
            return world;
        }
        catch
        {
            world.Dispose();
            throw;
        }
    }

    public IEnumerable<SoakSite> Sites => [Main, Next];

    /// <summary>The host's listener (`libvirt-shim watch`), which the world runs when the build has it.</summary>
    public ShimListener Listener(Site site) =>
        _listeners.GetValueOrDefault(site) ?? throw new InvalidOperationException($"no listener runs on {site.Label()}: the build has none");

    /// <summary>The booted guest's console, addresses and /init, or null for a guest without an OS.</summary>
    public LinuxGuest? Linux(GuestSpec guest) => _linux.GetValueOrDefault(guest.Name);

    public string SaveImage(GuestSpec guest) => Path.Combine(Fixture.WorkDir, guest.Name + ".save");

    /// <summary>
    /// The guest's definition for <paramref name="site"/> as an administrator writes it before adopt: every NIC a libvirt
    /// direct NIC on the site's uplink (an MTU as &lt;mtu size&gt;), a booted guest's kernel and console, ACPI (for hot-plug), TCG.
    /// </summary>
    public string DirectXml(GuestSpec guest, Site site)
    {
        string uplink = this[site].Uplink;
        var nics = guest.Nics.Select(n => (Nic)new DirectNic(n.Mac, uplink, n.Mode)).ToList();
        GuestXml xml = Linux(guest) is { } linux
            ? linux.Xml with { Uuid = guest.Uuid, Nics = nics }
            : new GuestXml(guest.Name, nics) { Uuid = guest.Uuid, Acpi = true };
        XDocument document = XDocument.Parse(xml.ToXml());
        // TCG for every guest: under KVM a guest without an OS paused itself after a minute or so (SeaBIOS retrying the boot).
        document.Root!.SetAttributeValue("type", "qemu");
        foreach (SpecNic nic in guest.Nics.Where(n => n.Mtu is not null))
            ShimAdmin.Interface(document, nic.Mac)!.Add(new XElement("mtu", new XAttribute("size", nic.Mtu!.Value)));
        return document.ToString();
    }

    /// <summary>
    /// The adopted definition with guard= (and ips=) on the &lt;shim:link&gt; of each guarded NIC, when the build has guards; a
    /// booted guest's 'ip' guard lists its LAN addresses.
    /// </summary>
    public string WithGuards(GuestSpec guest, string adopted)
    {
        if (!Features.Guard || guest.Owned.All(n => n.Guard is null)) return adopted;
        XDocument document = XDocument.Parse(adopted);
        foreach (SpecNic nic in guest.Owned.Where(n => n.Guard is not null))
        {
            XElement link = ShimAdmin.ShimLink(document, nic.Mac) ?? throw new InvalidOperationException($"adopt wrote no <shim:link> for {nic.Mac}");
            link.SetAttributeValue("guard", nic.Guard);
            if (nic.Guard == "ip") link.SetAttributeValue("ips", nic.Ips ?? LanAddresses(guest, nic.Mac));
        }
        return document.ToString();
    }

    private string LanAddresses(GuestSpec guest, string mac)
    {
        GuestLanNic lan = Linux(guest)?.Nics.FirstOrDefault(n => n.Nic.Mac == mac)
            ?? throw new InvalidOperationException($"{guest.Name}: guard='ip' on {mac} without ips= needs a booted guest's LAN NIC");
        return $"{lan.Address.V4} {lan.Address.V6}";
    }

    public void Dispose()
    {
        var problems = new List<string>();
        foreach (SoakSite site in Sites) Try(problems, $"{site.Label}: removing the run's guests", () => site.Virsh.RemoveGuests(Model.Fleet.Prefix));
        Try(problems, "stopping the listeners", StopListeners);
        Try(problems, "putting the hook symlinks back", Faults.Uninstall);
        Try(problems, "stopping libvirt-next", _next.Dispose);
        Try(problems, "the fixture's settings back", () => Fixture.WriteSettings());
        Try(problems, "putting back /dev/tap nodes set aside", () => TapNodes.PutBack());
        foreach (string image in Fleet.Select(SaveImage).Where(File.Exists)) File.Delete(image);
        if (problems.Count > 0) throw new InvalidOperationException("soak tear-down: " + string.Join("; ", problems));
    }

    /// <summary>
    /// A host's hook settings in the run: the other host's uplink mapped to its own; holds that wait for a definition or
    /// an arrival, and a start's deadline (a killed release's links go at the seed after it), expire within the checks'
    /// bound: with the default 600 s every killed release of a guest started less than ten minutes before would wait that long.
    /// </summary>
    private static void Settings(JsonObject settings, string otherUplink, string uplink)
    {
        settings["Uplinks"] = new JsonObject { [otherUplink] = uplink };
        settings["ReservationSeconds"] = ReservationSeconds;
    }

    public const int ReservationSeconds = 15;

    private LinuxGuest NewLinuxGuest(GuestSpec guest)
    {
        // Each booted guest's NICs on subnets of their own: its defined NIC on 0 or 2, the one it may be hot-plugged on 1.
        int host = 10 + guest.Index;
        var nic = new GuestLanNic(new DirectNic(guest.Nics[0].Mac, Main.Uplink), Lan.GuestAddress(guest.Index % 2 == 0 ? 0 : 2, host));
        var hot = new GuestLanNic(new DirectNic(guest.HotMac!, Main.Uplink), Lan.GuestAddress(1, host));
        return new LinuxGuest(Fixture, guest.Name, [nic], [hot]);
    }

    private Features DetectFeatures()
    {
        string help = Main.Shim(["--help"]).Stdout;
        bool Verb(string verb) => help.Split('\n').Any(l => l.TrimStart().StartsWith(verb + " ", StringComparison.Ordinal));
        return new Features(Listener: Verb("watch"), Repair: Verb("repair"), Guard: ExplainsGuards());
    }

    /// <summary>Whether the build under test guards NICs (issue 24): `explain` of a NIC with guard='mac' says what the guard does
    /// (whatever it says of the rest).</summary>
    private bool ExplainsGuards()
    {
        const string probe = "<domain><name>e2e-soak-probe</name><uuid>50a4c000-0000-4000-8000-0000000000ff</uuid><metadata>" +
            "<shim:macvtap xmlns:shim='urn:libvirt-shim:macvtap:1'><shim:link mac='52:54:00:e2:ff:01' source='e2e-up0' guard='mac'/>" +
            "</shim:macvtap></metadata><devices><interface type='ethernet'><mac address='52:54:00:e2:ff:01'/>" +
            "<target dev='e2etap99' managed='no'/></interface></devices></domain>";
        CmdResult explain = Main.Shim(["explain", "-"], probe);
        return explain.Stdout.Contains("guard mac (guard=)", StringComparison.Ordinal);
    }

    /// <summary>
    /// Whether the tree's virtlogd, which writes the consoles of libvirt-next's guests, lacks the work directory's bind mount
    /// (LIBVIRT_NEXT_BIND, made when the daemons start): one left running by an earlier run writes them into the tree instead.
    /// </summary>
    private bool TreeLogsMissWorkDir()
    {
        string pidFile = Next.HostPath("/run/virtlogd.pid");
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), out int pid)) return false;
        string mounts = $"/proc/{pid}/mountinfo";
        return File.Exists(mounts) && !File.ReadAllText(mounts).Contains($" {Fixture.WorkDir} ", StringComparison.Ordinal);
    }

    private void StopListeners()
    {
        lock (_listeners)
        {
            foreach (ShimListener listener in _listeners.Values) listener.Dispose();
            _listeners.Clear();
        }
    }

    private static void Try(List<string> problems, string what, Action action)
    {
        try
        {
            action();
        }
        catch (Exception e)
        {
            problems.Add($"{what}: {e.Message}");
        }
    }
}
