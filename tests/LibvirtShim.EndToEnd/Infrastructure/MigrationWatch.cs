using System.Globalization;
using System.Text.RegularExpressions;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>What one live migration under an inbound ping flow looked like from the LAN.</summary>
public sealed record MigrationFigures(
    string Direction, int PingsSent, int PingsLost, int LongestGapMs, double MigrateSeconds,
    IReadOnlyList<string> EarlyFrames, string? Announce, int FramesOnPort)
{
    public string Summary() =>
        $"{Direction}: virsh migrate {MigrateSeconds:0.00}s; inbound pings every 20 ms: {PingsSent} sent, {PingsLost} lost " +
        $"(longest gap {LongestGapMs} ms); frames with the guest's MAC on the destination's switch port before QEMU's announce: " +
        $"{EarlyFrames.Count}{Lead()} (of {FramesOnPort} captured)";

    /// <summary>How long before the announce the first early frame came (tcpdump -tt timestamps).</summary>
    private string Lead() =>
        EarlyFrames.Count == 0 || Announce is null ? ""
            : $", the first {double.Parse(Announce.Split(' ')[0], CultureInfo.InvariantCulture)
                - double.Parse(EarlyFrames[0].Split(' ')[0], CultureInfo.InvariantCulture):0.00}s before it";
}

/// <summary>
/// Watches a live migration from the LAN: the switch's host pings the guest every 20 ms, and tcpdump captures what
/// enters the switch from the destination host's port with the guest's MAC as source. Before QEMU's announce (a RARP
/// with the guest's MAC, sent when the migration completes and before the guest's CPUs run there) nothing may: a
/// frame then is the destination host speaking for the guest, and the switch would move the guest's MAC to the wrong port.
/// </summary>
public sealed partial class MigrationWatch : IDisposable
{
    private const int IntervalMs = 20;
    private readonly BackgroundProcess _capture;
    private readonly BackgroundProcess _ping;
    private readonly string _direction;

    public MigrationWatch(string direction, string destinationPort, string mac, string address)
    {
        _direction = direction;
        _capture = new BackgroundProcess(Lan.InCommand("tcpdump", "-i", destinationPort, "-Q", "in", "-e", "-n", "-tt", "-l", "-U",
            "ether", "src", mac));
        Poll.Until(() => _capture.Stderr.Any(l => l.StartsWith("listening on", StringComparison.Ordinal)) || _capture.HasExited,
            $"tcpdump on {destinationPort} to start capturing", TimeSpan.FromSeconds(20));
        if (_capture.HasExited) throw new InvalidOperationException($"tcpdump ended: {_capture.Describe()}");
        _ping = new BackgroundProcess(Lan.InCommand("ping", "-n", "-D", "-i", (IntervalMs / 1000.0).ToString(CultureInfo.InvariantCulture), address));
        // The flow runs before the migration starts: 10 answers.
        Poll.Until(() => Replies(_ping.Stdout).Count >= 10 || _ping.HasExited, $"{address} to answer the ping flow", TimeSpan.FromSeconds(30));
        if (_ping.HasExited) throw new InvalidOperationException($"ping ended: {_ping.Describe()}");
    }

    /// <summary>
    /// Runs the migration, then waits (bounded) for the announce on the destination's port and for 50 more answers
    /// after the migration; stops ping and tcpdump and returns the figures.
    /// </summary>
    public MigrationFigures Migrate(Func<CmdResult> migrate)
    {
        var start = DateTimeOffset.UtcNow;
        CmdResult result = migrate();
        double seconds = (DateTimeOffset.UtcNow - start).TotalSeconds;
        result.MustSucceed($"migration {_direction}");
        int answered = Replies(_ping.Stdout).Count;
        Poll.Until(() => _capture.Stdout.Any(IsAnnounce), seen => seen, $"QEMU's announce (RARP) on the destination's port after {_direction}",
            TimeSpan.FromSeconds(20), _ => _capture.Describe());
        Poll.Until(() => Replies(_ping.Stdout).Count >= answered + 50, ok => ok, $"the guest to answer the ping flow again after {_direction}",
            TimeSpan.FromSeconds(60), _ => string.Join("\n", _ping.Stdout.TakeLast(10)));
        _ping.Stop();
        _capture.Stop();

        IReadOnlyList<string> frames = _capture.Stdout.Where(l => FrameLine().IsMatch(l)).ToList();
        int announceAt = frames.ToList().FindIndex(IsAnnounce);
        var replies = Replies(_ping.Stdout);
        int last = replies.Max();
        int lost = 0, run = 0, longest = 0;
        for (int seq = 1; seq <= last; seq++)
        {
            if (replies.Contains(seq)) { run = 0; continue; }
            lost++;
            longest = Math.Max(longest, ++run);
        }
        return new MigrationFigures(_direction, last, lost, longest == 0 ? 0 : (longest + 1) * IntervalMs, seconds,
            announceAt < 0 ? frames : frames.Take(announceAt).ToList(), announceAt < 0 ? null : frames[announceAt], frames.Count);
    }

    public void Dispose()
    {
        _ping.Dispose();
        _capture.Dispose();
    }

    private static bool IsAnnounce(string frame) => frame.Contains("(0x8035)", StringComparison.Ordinal);

    /// <summary>The sequence numbers answered ("64 bytes from A: icmp_seq=N ttl=..."; duplicates once).</summary>
    private static HashSet<int> Replies(IEnumerable<string> lines) =>
        lines.Select(l => ReplyLine().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).ToHashSet();

    [GeneratedRegex(@"bytes from .*icmp_seq=(\d+) ttl=")]
    private static partial Regex ReplyLine();

    [GeneratedRegex(@"^\d+\.\d+ [0-9a-f:]{17} > ")]
    private static partial Regex FrameLine();
}
