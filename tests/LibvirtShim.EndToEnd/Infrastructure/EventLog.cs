using System.Globalization;
using System.Text.RegularExpressions;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>One lifecycle event as virsh event --timestamp printed it.</summary>
public sealed record LifecycleEvent(DateTimeOffset At, string Daemon, string Domain, string What)
{
    public override string ToString() => $"{At:HH:mm:ss.fff} {Daemon}: {What}";
}

/// <summary>One change of a link's up flag as ip -ts monitor link printed it.</summary>
public sealed record LinkChangeSeen(DateTimeOffset At, string Name, bool Up)
{
    public override string ToString() => $"{At:HH:mm:ss.ffffff} {Name} {(Up ? "up" : "down")}";
}

/// <summary>
/// What happens while a scenario runs, as independent tools see it: each daemon's domain lifecycle events
/// (<c>virsh event --all --loop --timestamp</c>) and every change of a link's up flag in this host's network namespace
/// (<c>ip -ts monitor link</c>), both with wall-clock times of this machine.
/// </summary>
public sealed partial class EventLog : IDisposable
{
    private readonly List<(string Daemon, BackgroundProcess Process)> _events = [];
    private readonly BackgroundProcess _links;

    public EventLog(params (string Daemon, Virsh Virsh)[] daemons)
    {
        foreach (var (daemon, virsh) in daemons)
            _events.Add((daemon, new BackgroundProcess("virsh", "-c", virsh.Uri, "event", "--all", "--loop", "--timestamp")));
        _links = new BackgroundProcess("ip", "-ts", "monitor", "link");
    }

    /// <summary>The lifecycle events of <paramref name="domain"/> so far, in time order.</summary>
    public List<LifecycleEvent> Lifecycle(string domain) => _events
        .SelectMany(e => e.Process.Stdout.Select(l => EventLine().Match(l)).Where(m => m.Success && m.Groups["domain"].Value == domain)
            .Select(m => new LifecycleEvent(EventTime(m.Groups["at"].Value), e.Daemon, domain, m.Groups["what"].Value)))
        .OrderBy(e => e.At).ToList();

    /// <summary>The changes of the up flag of the links named <paramref name="names"/> so far (repeats of the same state left out).</summary>
    public List<LinkChangeSeen> Links(params string[] names)
    {
        var seen = new List<LinkChangeSeen>();
        var last = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (string line in _links.Stdout)
        {
            Match m = LinkLine().Match(line);
            if (!m.Success || !names.Contains(m.Groups["name"].Value)) continue;
            bool up = m.Groups["flags"].Value.Split(',').Contains("UP");
            string name = m.Groups["name"].Value;
            if (m.Groups["deleted"].Success || (last.TryGetValue(name, out bool was) && was == up)) continue;
            last[name] = up;
            seen.Add(new LinkChangeSeen(DateTimeOffset.ParseExact(m.Groups["at"].Value, "yyyy-MM-ddTHH:mm:ss.ffffff", CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal), name, up));
        }
        return seen;
    }

    /// <summary>virsh's "2026-12-06 12:41:57.438+0000" (its offset without a colon).</summary>
    private static DateTimeOffset EventTime(string text) =>
        DateTimeOffset.ParseExact(text[..^2] + ":" + text[^2..], "yyyy-MM-dd HH:mm:ss.fffzzz", CultureInfo.InvariantCulture);

    public void Dispose()
    {
        foreach (var (_, process) in _events) process.Dispose();
        _links.Dispose();
    }

    // 2026-12-06 12:41:57.438+0000: event 'lifecycle' for domain 'lx-evt': Resumed Unpaused
    [GeneratedRegex(@"^(?<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}[+-]\d{4}): event 'lifecycle' for domain '(?<domain>[^']*)': (?<what>.*)$")]
    private static partial Regex EventLine();

    // [2026-12-06T13:27:33.459779] 3: v1@v2: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 ...; "Deleted 3: ..." when it goes
    [GeneratedRegex(@"^\[(?<at>[0-9T:.-]+)\] (?<deleted>Deleted )?\d+: (?<name>[^:@ ]+)(?:@[^:]*)?: <(?<flags>[^>]*)>")]
    private static partial Regex LinkLine();
}
