using System.Globalization;
using System.Text.RegularExpressions;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>
/// What one ping flow saw: echo requests sent (the highest sequence number answered), lost, the longest gap, and when the
/// first answer after that gap came (ping -D's clock: this machine's).
/// </summary>
public sealed record FlowFigures(string Flow, int Sent, int Lost, int LongestGapMs, DateTimeOffset? AnsweredAgainAt = null)
{
    public override string ToString() => $"{Flow}: {Sent} sent, {Lost} lost (longest gap {LongestGapMs} ms)";
}

/// <summary>
/// Echo requests every 20 ms from inside a network namespace (the LAN host, a neighbour) to one address: replies collected as
/// they come, lost ones counted by sequence number.
/// </summary>
public sealed partial class PingFlow : IDisposable
{
    public const int IntervalMs = 20;
    private readonly BackgroundProcess _ping;

    public PingFlow(string name, string netns, string address, int? count = null)
    {
        Name = name;
        string[] ping = ["ping", "-n", "-D", "-i", (IntervalMs / 1000.0).ToString(CultureInfo.InvariantCulture)];
        if (count is { } c) ping = [.. ping, "-c", c.ToString(CultureInfo.InvariantCulture)];
        _ping = new BackgroundProcess(["ip", "netns", "exec", netns, .. ping, address]);
    }

    public string Name { get; }

    public int Answered => Replies(_ping.Stdout).Count;

    public bool HasExited => _ping.HasExited;

    /// <summary>Waits (bounded) until <paramref name="more"/> more echo requests were answered than now.</summary>
    public void WaitAnswers(int more, string when, TimeSpan? timeout = null)
    {
        int target = Answered + more;
        Poll.Until(() => Answered >= target || _ping.HasExited, $"{Name} to answer {more} more pings {when}", timeout ?? TimeSpan.FromSeconds(60));
        if (Answered < target) throw new InvalidOperationException($"{Name}: ping ended: {_ping.Describe()}");
    }

    /// <summary>When the first reply after <paramref name="after"/> came (ping -D's timestamps), or null.</summary>
    public DateTimeOffset? FirstReplyAfter(DateTimeOffset after) => _ping.Stdout.Select(ReplyTime).OfType<DateTimeOffset>()
        .Where(t => t > after).Cast<DateTimeOffset?>().FirstOrDefault();

    /// <summary>Stops the flow (SIGINT) and counts: sent up to the last answered request, each unanswered one lost.</summary>
    public FlowFigures Stop()
    {
        _ping.Stop();
        HashSet<int> replies = Replies(_ping.Stdout);
        int last = replies.Count == 0 ? 0 : replies.Max();
        int lost = 0, run = 0, longest = 0, longestEnd = 0;
        for (int seq = 1; seq <= last; seq++)
        {
            if (replies.Contains(seq)) { run = 0; continue; }
            lost++;
            if (++run > longest) (longest, longestEnd) = (run, seq);
        }
        DateTimeOffset? again = longest == 0 ? null : _ping.Stdout.Select(l => ReplyLine().Match(l))
            .Where(m => m.Success && m.Groups["at"].Success && int.Parse(m.Groups["seq"].Value) == longestEnd + 1)
            .Select(m => At(m.Groups["at"].Value)).Cast<DateTimeOffset?>().FirstOrDefault();
        return new FlowFigures(Name, last, lost, longest == 0 ? 0 : (longest + 1) * IntervalMs, again);
    }

    public void Dispose() => _ping.Dispose();

    /// <summary>The sequence numbers answered ("64 bytes from A: icmp_seq=N ttl=..."; duplicates once).</summary>
    public static HashSet<int> Replies(IEnumerable<string> lines) =>
        lines.Select(l => ReplyLine().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups["seq"].Value)).ToHashSet();

    private static DateTimeOffset? ReplyTime(string line) => ReplyLine().Match(line) is { Success: true } m ? At(m.Groups["at"].Value) : null;

    private static DateTimeOffset At(string seconds) =>
        DateTimeOffset.FromUnixTimeMilliseconds((long)(double.Parse(seconds, CultureInfo.InvariantCulture) * 1000));

    [GeneratedRegex(@"^(?:\[(?<at>\d+\.\d+)\] )?\d+ bytes from .*icmp_seq=(?<seq>\d+) ttl=")]
    private static partial Regex ReplyLine();
}
