using System.Text.RegularExpressions;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>
/// tcpdump on a port of the LAN's switch: what enters the switch from that port (-Q in: what the far side sent, not the
/// other ports' floods) with one of <paramref name="macs"/> as its source, one line per frame with its time (-tt).
/// </summary>
public sealed partial class FrameCapture : IDisposable
{
    private readonly BackgroundProcess _tcpdump;

    public FrameCapture(string port, params string[] macs)
    {
        string[] filter = macs.SelectMany((mac, i) => i == 0 ? new[] { "ether", "src", mac } : ["or", "ether", "src", mac]).ToArray();
        _tcpdump = new BackgroundProcess(Lan.InCommand(["tcpdump", "-i", port, "-Q", "in", "-e", "-n", "-tt", "-l", "-U", .. filter]));
        // A busy machine can take a second to start capturing: nothing counts before tcpdump says it listens.
        Poll.Until(() => _tcpdump.Stderr.Any(l => l.StartsWith("listening on", StringComparison.Ordinal)) || _tcpdump.HasExited,
            $"tcpdump on {port} to start capturing", TimeSpan.FromSeconds(20));
        if (_tcpdump.HasExited) throw new InvalidOperationException($"tcpdump ended: {_tcpdump.Describe()}");
    }

    /// <summary>The frames captured so far.</summary>
    public IReadOnlyList<string> Frames => _tcpdump.Stdout.Where(l => FrameLine().IsMatch(l)).ToList();

    public string Describe() => _tcpdump.Describe();

    public void Stop() => _tcpdump.Stop();

    public void Dispose() => _tcpdump.Dispose();

    [GeneratedRegex(@"^\d+\.\d+ [0-9a-f:]{17} > ")]
    private static partial Regex FrameLine();
}
