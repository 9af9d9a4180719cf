using System.Text.RegularExpressions;
using Xunit;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>One NIC of a booting guest: the NIC, its addresses on the LAN and the MTU its /init sets (null: the default).</summary>
public sealed record GuestLanNic(Nic Nic, GuestAddress Address, int? Mtu = null);

/// <summary>What the guest's /init printed for one NIC: "shim-guest: nic MAC dev DEV mtu N ipv4 A ipv6 B".</summary>
public sealed record ConsoleNic(string Mac, string Dev, int Mtu, string V4, string V6);

/// <summary>
/// A guest that boots the kernel and initramfs of scripts/guest-image.sh: its NICs get their addresses from the kernel
/// command line (shim.nic=MAC,IPV4/LEN,IPV6/LEN,MTU), and its /init reports on the serial console, a file in the
/// suite's work directory, read by polling.
/// </summary>
public sealed partial class LinuxGuest
{
    public static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(120);
    private const string Marker = "shim-guest: ";

    public LinuxGuest(LibvirtFixture fixture, string name, IReadOnlyList<GuestLanNic> nics)
    {
        Nics = nics;
        ConsolePath = Path.Combine(fixture.WorkDir, name + ".console");
        string cmdline = "console=ttyS0 quiet " + string.Join(' ', nics.Select(n =>
            $"shim.nic={n.Nic.Mac},{n.Address.V4}/{n.Address.V4Prefix},{n.Address.V6}/{n.Address.V6Prefix},{n.Mtu}"));
        (string kernel, string initrd) = fixture.GuestImage;
        Xml = new GuestXml(name, nics.Select(n => n.Nic).ToList()) { Boot = new GuestBoot(kernel, initrd, cmdline, ConsolePath) };
    }

    public GuestXml Xml { get; }

    public string Name => Xml.Name;

    public IReadOnlyList<GuestLanNic> Nics { get; }

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
            m => new ConsoleNic(m.Groups["mac"].Value, m.Groups["dev"].Value, int.Parse(m.Groups["mtu"].Value), m.Groups["v4"].Value, m.Groups["v6"].Value));
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
        if (problems.Count > 0) Assert.Fail($"{Name}'s /init did not configure its NICs as asked: {string.Join("; ", problems)}\nconsole:\n{Tail(text)}");
        return seen;
    }

    /// <summary>
    /// Defines and starts the guest on the main host, checks QEMU opened the tap devices of its macvtaps (see
    /// <see cref="TapNodes"/>), waits for /init's ready line and for every NIC to answer the LAN.
    /// </summary>
    public void Boot(LibvirtFixture fixture, ScenarioLog log, bool ipv6 = true)
    {
        fixture.Main.Define(Xml);
        // An earlier guest's address may still be in the LAN host's neighbour table with that guest's MAC.
        Lan.In("ip", "neigh", "flush", "all").MustSucceed("flushing the LAN host's neighbour table");
        log.Say($"/dev/tap nodes of other namespaces set aside: {TapNodes.MakeRoom()}");
        log.Step("virsh start", () => fixture.Main.Start(Name).MustSucceed($"virsh start {Name}"));
        ExpectQemuHoldsItsTaps(fixture.Main, fixture.QemuRunDir);
        log.Step("boot to /init's ready line", () => WaitReady());
        log.Step($"every NIC answers {(ipv6 ? "IPv4 and IPv6" : "IPv4")} pings from the LAN", () => WaitReachable("after boot", ipv6: ipv6));
    }

    /// <summary>QEMU (pid file in <paramref name="runDir"/>) holds the tap device of each of the guest's macvtaps as <paramref name="virsh"/> lists them.</summary>
    public void ExpectQemuHoldsItsTaps(Virsh virsh, string runDir)
    {
        int pid = int.Parse(File.ReadAllText(Path.Combine(runDir, Name + ".pid")).Trim());
        TapNodes.ExpectQemuHolds(pid, virsh.DomIfList(Name).Select(r => r.Interface));
    }

    /// <summary>Each NIC answers IPv4 and IPv6 pings from the LAN (bounded wait), through that NIC: the LAN host's neighbour entry names its MAC.</summary>
    public void WaitReachable(string when, TimeSpan? timeout = null, bool ipv6 = true)
    {
        foreach (GuestLanNic nic in Nics)
        {
            foreach (string address in ipv6 ? [nic.Address.V4, nic.Address.V6] : new[] { nic.Address.V4 })
            {
                Lan.WaitAnswers(address, $"{Name} {when}, NIC {nic.Nic.Mac}", timeout);
                string? mac = Lan.NeighbourMac(address);
                Assert.True(mac == nic.Nic.Mac, $"{Name} {when}: the LAN reaches {address} at MAC {mac ?? "(none)"}, not through NIC {nic.Nic.Mac}");
            }
        }
    }

    private static string Tail(string text)
    {
        string[] lines = text.Split('\n');
        return string.Join('\n', lines.TakeLast(25));
    }

    [GeneratedRegex(@"shim-guest: nic (?<mac>\S+) dev (?<dev>\S+) mtu (?<mtu>\d+) ipv4 (?<v4>\S+) ipv6 (?<v6>\S+)")]
    private static partial Regex NicLine();
}
