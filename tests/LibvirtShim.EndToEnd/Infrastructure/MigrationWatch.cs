using System.Globalization;

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
public sealed class MigrationWatch : IDisposable
{
    private readonly FrameCapture _capture;
    private readonly PingFlow _ping;
    private readonly string _direction;

    public MigrationWatch(string direction, string destinationPort, string mac, string address)
    {
        _direction = direction;
        _capture = new FrameCapture(destinationPort, mac);
        _ping = new PingFlow($"LAN host -> {address}", Lan.Namespace, address);
        // The flow runs before the migration starts: 10 answers.
        _ping.WaitAnswers(10, "before the migration", TimeSpan.FromSeconds(30));
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
        Poll.Until(() => _capture.Frames.Any(IsAnnounce), seen => seen, $"QEMU's announce (RARP) on the destination's port after {_direction}",
            TimeSpan.FromSeconds(20), _ => _capture.Describe());
        _ping.WaitAnswers(50, $"after {_direction}");
        FlowFigures flow = _ping.Stop();
        _capture.Stop();

        IReadOnlyList<string> frames = _capture.Frames;
        int announceAt = frames.ToList().FindIndex(IsAnnounce);
        return new MigrationFigures(_direction, flow.Sent, flow.Lost, flow.LongestGapMs, seconds,
            announceAt < 0 ? frames : frames.Take(announceAt).ToList(), announceAt < 0 ? null : frames[announceAt], frames.Count);
    }

    public void Dispose()
    {
        _ping.Dispose();
        _capture.Dispose();
    }

    /// <summary>A RARP (ethertype 0x8035): QEMU's announce of the guest's MAC.</summary>
    public static bool IsAnnounce(string frame) => frame.Contains("(0x8035)", StringComparison.Ordinal);
}
