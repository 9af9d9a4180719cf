using System.Text.RegularExpressions;
using Xunit;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>One NIC of a booting guest: the NIC, its addresses on the LAN and the MTU its /init sets (null: the default).</summary>
public sealed record GuestLanNic(Nic Nic, GuestAddress Address, int? Mtu = null);

/// <summary>What the guest's /init printed for one NIC: "shim-guest: nic MAC dev DEV mtu N ipv4 A ipv6 B".</summary>
public sealed record ConsoleNic(string Mac, string Dev, int Mtu, string V4, string V6);

/// <summary>
/// A guest that boots the kernel and initramfs of scripts/guest-image.sh: its NICs get their addresses from the kernel
/// command line (shim.nic=MAC,IPV4/LEN,IPV6/LEN,MTU; shim.hotnic=... for NICs hot-plugged later, see
/// <see cref="HotNics"/>), and its /init reports on the serial console, a file in the suite's work directory, read by polling.
/// </summary>
public sealed partial class LinuxGuest
{
    public static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(120);
    private const string Marker = "shim-guest: ";

    /// <param name="extraCmdline">More words for the kernel command line, for /init (say, shim.spoof=...).</param>
    public LinuxGuest(LibvirtFixture fixture, string name, IReadOnlyList<GuestLanNic> nics, IReadOnlyList<GuestLanNic>? hotNics = null,
        string extraCmdline = "", int vcpus = 1, bool acpi = false)
    {
        Nics = nics;
        HotNics = hotNics ?? [];
        ConsolePath = Path.Combine(fixture.WorkDir, name + ".console");
        string cmdline = "console=ttyS0 quiet " + string.Join(' ', nics.Select(n => "shim.nic=" + CmdlineEntry(n))
            .Concat(HotNics.Select(n => "shim.hotnic=" + CmdlineEntry(n))).Append(extraCmdline).Where(w => w.Length > 0));
        (string kernel, string initrd) = fixture.GuestImage;
        // ACPI: the i440fx machine tells the guest about PCI hot-plug and unplug through it.
        Xml = new GuestXml(name, nics.Select(n => n.Nic).ToList())
        {
            Boot = new GuestBoot(kernel, initrd, cmdline, ConsolePath),
            Acpi = acpi || HotNics.Count > 0,
            Vcpus = vcpus,
        };
    }

    public GuestXml Xml { get; }

    public string Name => Xml.Name;

    public IReadOnlyList<GuestLanNic> Nics { get; }

    /// <summary>NICs the guest does not start with: its /init configures each when a NIC with its MAC appears (hot-plug).</summary>
    public IReadOnlyList<GuestLanNic> HotNics { get; }

    public string ConsolePath { get; }

    public string Console() => File.Exists(ConsolePath) ? File.ReadAllText(ConsolePath) : "";

    /// <summary>
    /// Polls the console (bounded) until /init says "ready", then checks it configured every NIC as asked (found by
    /// its MAC, with its MTU and addresses); returns what it printed per MAC.
    /// </summary>
    public IReadOnlyDictionary<string, ConsoleNic> WaitReady(TimeSpan? timeout = null)
    {
        string text = Poll.Until(Console, c => c.Contains(Marker + "ready", StringComparison.Ordinal),
            $"{Name} to boot and print \"{Marker}ready\" on {ConsolePath}", timeout ?? BootTimeout, c => "\n" + Tail(c));
        var seen = NicLine().Matches(text).ToDictionary(m => m.Groups["mac"].Value,
            m => new ConsoleNic(m.Groups["mac"].Value, m.Groups["dev"].Value, int.Parse(m.Groups["mtu"].Value),
                m.Groups["v4"].Value, m.Groups["v6"].Value));
        var problems = new List<string>();
        foreach (GuestLanNic nic in Nics)
        {
            if (!seen.TryGetValue(nic.Nic.Mac, out ConsoleNic? c))
            {
                problems.Add($"{nic.Nic.Mac}: not configured");
                continue;
            }
            if (nic.Mtu is { } mtu && c.Mtu != mtu) problems.Add($"{nic.Nic.Mac}: MTU {c.Mtu}, asked for {mtu}");
            if (c.V4 != $"{nic.Address.V4}/{nic.Address.V4Prefix}" || c.V6 != $"{nic.Address.V6}/{nic.Address.V6Prefix}")
                problems.Add($"{nic.Nic.Mac}: addresses {c.V4} {c.V6}");
        }
        if (problems.Count > 0)
            Assert.Fail($"{Name}'s /init did not configure its NICs as asked: {string.Join("; ", problems)}\nconsole:\n{Tail(text)}");
        return seen;
    }

    /// <summary>
    /// Defines and starts the guest on the main host, checks QEMU opened the tap devices of its macvtaps (see
    /// <see cref="TapNodes"/>), waits for /init's ready line and for every NIC to answer the LAN.
    /// </summary>
    /// <param name="makeRoom">
    /// For a guest with libvirt's own macvtaps (direct, network NICs): set other namespaces' /dev/tap nodes aside first
    /// (<see cref="TapNodes.MakeRoom"/>); the hook makes the nodes of its own NICs itself. False to leave them in any case.
    /// </param>
    public void Boot(LibvirtFixture fixture, ScenarioLog log, bool ipv6 = true, bool makeRoom = true)
    {
        fixture.Main.Define(Xml);
        Start(fixture, log, ipv6, makeRoom);
    }

    /// <summary>Starts the defined guest (again) on the main host with an empty console, and waits as <see cref="Boot"/> does.</summary>
    public void Start(LibvirtFixture fixture, ScenarioLog log, bool ipv6 = true, bool makeRoom = true)
    {
        File.Delete(ConsolePath);
        // An earlier guest's address may still be in the LAN host's neighbour table with that guest's MAC.
        Lan.In("ip", "neigh", "flush", "all").MustSucceed("flushing the LAN host's neighbour table");
        if (makeRoom && Xml.Nics.Any(n => n is DirectNic or NetworkNic))
            log.Say($"/dev/tap nodes of other namespaces set aside for libvirt's own macvtaps: {TapNodes.MakeRoom()}");
        log.Step("virsh start", () => fixture.Main.Start(Name).MustSucceed($"virsh start {Name}"));
        ExpectQemuHoldsItsTaps(fixture.Main, fixture.QemuRunDir);
        log.Step("boot to /init's ready line", () => WaitReady());
        log.Step($"every NIC answers {(ipv6 ? "IPv4 and IPv6" : "IPv4")} pings from the LAN", () => WaitReachable("after boot", ipv6: ipv6));
    }

    /// <summary>
    /// QEMU (pid file in <paramref name="runDir"/>) holds the tap device of each of the guest's macvtaps as
    /// <paramref name="virsh"/> lists them.
    /// </summary>
    public void ExpectQemuHoldsItsTaps(Virsh virsh, string runDir)
    {
        int pid = int.Parse(File.ReadAllText(Path.Combine(runDir, Name + ".pid")).Trim());
        TapNodes.ExpectQemuHolds(pid, virsh.DomIfList(Name).Select(r => r.Interface));
    }

    /// <summary>
    /// Each NIC answers IPv4 and IPv6 pings from the LAN (bounded wait), through that NIC: the LAN host's neighbour entry
    /// names its MAC.
    /// </summary>
    public void WaitReachable(string when, TimeSpan? timeout = null, bool ipv6 = true) => WaitReachable(Nics, when, timeout, ipv6);

    /// <summary>The same for <paramref name="nics"/> (say, hot-plugged ones).</summary>
    public void WaitReachable(IEnumerable<GuestLanNic> nics, string when, TimeSpan? timeout = null, bool ipv6 = true)
    {
        foreach (GuestLanNic nic in nics)
        {
            foreach (string address in ipv6 ? [nic.Address.V4, nic.Address.V6] : new[] { nic.Address.V4 })
            {
                Lan.WaitAnswers(address, $"{Name} {when}, NIC {nic.Nic.Mac}", timeout);
                string? mac = Lan.NeighbourMac(address);
                Assert.True(mac == nic.Nic.Mac, $"{Name} {when}: the LAN reaches {address} at MAC {mac ?? "(none)"}, not through NIC {nic.Nic.Mac}");
            }
        }
    }

    /// <summary>How much the console holds now: what /init prints later is read from here on.</summary>
    public int ConsoleMark() => Console().Length;

    /// <summary>Polls the console from <paramref name="mark"/> on until /init configured <paramref name="nic"/> (hot-plugged), as asked.</summary>
    public ConsoleNic WaitNicConfigured(GuestLanNic nic, int mark, TimeSpan? timeout = null)
    {
        Match line = Poll.Until(() => NicLine().Matches(Since(mark)).FirstOrDefault(m => m.Groups["mac"].Value == nic.Nic.Mac), m => m is not null,
            $"{Name}'s /init to configure NIC {nic.Nic.Mac}", timeout, _ => "\n" + Tail(Since(mark)))!;
        var seen = new ConsoleNic(nic.Nic.Mac, line.Groups["dev"].Value, int.Parse(line.Groups["mtu"].Value),
            line.Groups["v4"].Value, line.Groups["v6"].Value);
        Assert.True(seen.V4 == $"{nic.Address.V4}/{nic.Address.V4Prefix}" && seen.V6 == $"{nic.Address.V6}/{nic.Address.V6Prefix}"
            && (nic.Mtu is null || nic.Mtu == seen.Mtu), $"{Name}'s /init configured NIC {nic.Nic.Mac} with {seen.V4} {seen.V6} mtu {seen.Mtu}");
        return seen;
    }

    /// <summary>
    /// Polls the console from <paramref name="mark"/> on until /init saw the NIC with <paramref name="mac"/> go; returns
    /// its device name.
    /// </summary>
    public string WaitNicGone(string mac, int mark, TimeSpan? timeout = null)
    {
        Match line = Poll.Until(() => GoneLine().Matches(Since(mark)).FirstOrDefault(m => m.Groups["mac"].Value == mac), m => m is not null,
            $"{Name}'s /init to see NIC {mac} go", timeout, _ => "\n" + Tail(Since(mark)))!;
        return line.Groups["dev"].Value;
    }

    /// <summary>
    /// The queue pairs (rx, tx) the guest's driver uses on the NIC with <paramref name="mac"/>, as /init printed them after
    /// configuring it.
    /// </summary>
    public (int Rx, int Tx) Queues(string mac)
    {
        Match line = Poll.Until(() => QueuesLine().Matches(Console()).LastOrDefault(m => m.Groups["mac"].Value == mac), m => m is not null,
            $"{Name}'s /init to print the queues of NIC {mac}", TimeSpan.FromSeconds(30), _ => "\n" + Tail(Console()))!;
        return (int.Parse(line.Groups["rx"].Value), int.Parse(line.Groups["tx"].Value));
    }

    private string Since(int mark)
    {
        string text = Console();
        return mark <= text.Length ? text[mark..] : text;
    }

    private static string CmdlineEntry(GuestLanNic n) =>
        $"{n.Nic.Mac},{n.Address.V4}/{n.Address.V4Prefix},{n.Address.V6}/{n.Address.V6Prefix},{n.Mtu}";

    private static string Tail(string text)
    {
        string[] lines = text.Split('\n');
        return string.Join('\n', lines.TakeLast(25));
    }

    // Whole lines only: the console may be read while QEMU is half-way through writing one.
    [GeneratedRegex(@"shim-guest: nic (?<mac>\S+) dev (?<dev>\S+) mtu (?<mtu>\d+) ipv4 (?<v4>\S+) ipv6 (?<v6>\S+)(?=\r?\n)")]
    private static partial Regex NicLine();

    [GeneratedRegex(@"shim-guest: gone (?<mac>\S+) dev (?<dev>\S+)(?=\r?\n)")]
    private static partial Regex GoneLine();

    [GeneratedRegex(@"shim-guest: queues (?<mac>\S+) dev (?<dev>\S+) rx (?<rx>\d+) tx (?<tx>\d+)(?=\r?\n)")]
    private static partial Regex QueuesLine();
}
