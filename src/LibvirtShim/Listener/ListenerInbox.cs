using System.Collections.Concurrent;
using System.Diagnostics;
using LibvirtShim.Domain;

namespace LibvirtShim.Listener;

/// <summary>What the listener has to do next: look at a guest again, or the connection is gone.</summary>
internal abstract record ListenerSignal
{
    /// <summary>
    /// A guest changed (a lifecycle event or its metadata): look at it again. <see cref="HeardAt"/> is when the first event of
    /// those it stands for arrived (Stopwatch ticks), <see cref="Event"/> the last one's words and <see cref="LastEvent"/> its
    /// virDomainEventType (<see cref="Interop.Libvirt.MetadataChanged"/> for a metadata change).
    /// </summary>
    public sealed record GuestChanged(Guid Uuid, long HeardAt, string Event, int LastEvent = Interop.Libvirt.MetadataChanged) : ListenerSignal;

    public sealed record ConnectionClosed(string Reason) : ListenerSignal;

    /// <summary>Nothing to look at: the figures changed on another thread, and are saved.</summary>
    public sealed record FiguresChanged : ListenerSignal;
}

/// <summary>
/// Where one connection's events wait for the listener. Called on libvirt's event loop thread, it only queues: a guest already
/// waiting to be looked at is not queued twice (the look happens after the last event, and reads the state as it is then).
/// </summary>
internal sealed class ListenerInbox : ILibvirtEventSink
{
    /// <summary>Not libvirt's: the listener's own word that a guest's lost links were made again (<see cref="WatchLoop.Repaired"/>).</summary>
    public const int LinksRepaired = -2;

    private readonly BlockingCollection<ListenerSignal> _queue = new();
    private readonly Dictionary<Guid, (string Words, int Event)> _waiting = [];

    public void DomainChanged(Guid domain, int lifecycleEvent, int detail)
    {
        var last = (LifecycleEvents.Describe(lifecycleEvent, detail), lifecycleEvent);
        lock (_waiting)
        {
            bool queued = _waiting.ContainsKey(domain);
            _waiting[domain] = last;
            if (queued) return;
        }
        _queue.Add(new ListenerSignal.GuestChanged(domain, Stopwatch.GetTimestamp(), last.Item1, lifecycleEvent));
    }

    public void FiguresChanged() => _queue.Add(new ListenerSignal.FiguresChanged());

    public void ConnectionClosed(int reason) => _queue.Add(new ListenerSignal.ConnectionClosed(LifecycleEvents.CloseReason(reason)));

    /// <summary>The next signal, waiting at most <paramref name="wait"/>; null when none came or <paramref name="stop"/> was set.</summary>
    public ListenerSignal? Take(TimeSpan wait, CancellationToken stop)
    {
        try
        {
            if (!_queue.TryTake(out ListenerSignal? signal, (int)wait.TotalMilliseconds, stop)) return null;
            if (signal is ListenerSignal.GuestChanged changed)
            {
                lock (_waiting)
                {
                    (string words, int lifecycleEvent) = _waiting[changed.Uuid];
                    _waiting.Remove(changed.Uuid);
                    return changed with { Event = words, LastEvent = lifecycleEvent };
                }
            }
            return signal;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}

/// <summary>libvirt's words for its lifecycle events (virsh event), for the log.</summary>
internal static class LifecycleEvents
{
    private static readonly string[] Events = ["defined", "undefined", "started", "suspended", "resumed", "stopped", "shutdown", "pmsuspended",
        "crashed"];

    private static readonly string[][] Details =
    [
        ["added", "updated", "renamed", "from snapshot"],
        ["removed", "renamed"],
        ["booted", "migrated", "restored", "from snapshot", "wakeup"],
        ["paused", "migrated", "I/O error", "watchdog", "restored", "from snapshot", "API error", "post-copy", "post-copy failed"],
        ["unpaused", "migrated", "from snapshot", "post-copy", "post-copy failed"],
        ["shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from snapshot"],
        ["finished", "guest", "host"],
        ["memory", "disk"],
        ["panicked", "crashloaded"],
    ];

    /// <summary>"resumed migrated", "suspended post-copy", "metadata changed"; numbers for what this build does not know.</summary>
    public static string Describe(int lifecycleEvent, int detail)
    {
        if (lifecycleEvent == Interop.Libvirt.MetadataChanged) return "metadata changed";
        if (lifecycleEvent == ListenerInbox.LinksRepaired) return "lost links made again";
        if (lifecycleEvent < 0 || lifecycleEvent >= Events.Length) return $"event {lifecycleEvent} detail {detail}";
        string[] details = Details[lifecycleEvent];
        return $"{Events[lifecycleEvent]} {(detail >= 0 && detail < details.Length ? details[detail] : $"detail {detail}")}";
    }

    /// <summary>
    /// The state a lifecycle event itself says the guest is in, when it says one for sure: resumed (the vCPUs run) and
    /// suspended (they do not). Started does not (an arriving migration starts paused), nor does anything else.
    /// </summary>
    public static GuestState? Implied(int lifecycleEvent) => lifecycleEvent switch
    {
        Resumed => GuestState.Running,
        Suspended => GuestState.Paused,
        _ => null,
    };

    private const int Suspended = 3, Resumed = 4;   // VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_RESUMED

    /// <summary>virConnectCloseReason in words.</summary>
    public static string CloseReason(int reason) => reason switch
    {
        0 => "a connection error",
        1 => "end of file: the daemon went away",
        2 => "keepalive: the daemon stopped answering",
        3 => "closed by this client",
        _ => $"reason {reason}",
    };
}
