using LibvirtShim.State;

namespace LibvirtShim.Reports;

/// <summary>
/// The listener (<c>libvirt-shim watch</c>) as <c>status</c> and <c>doctor</c> see it: whether one connected to libvirt holds its
/// lock, and the figures it last wrote (believed only while it does).
/// </summary>
internal sealed record ListenerView(ListenerPresence Presence, ListenerMetrics? Metrics)
{
    /// <summary>What a host without a listener pays, in the words status and doctor use.</summary>
    public const string Cost = "links come up at prepare instead of when the guest's vCPUs run: an arriving live migration's links take " +
        "frames from co-located guests until the switchover, and a source's keep taking them after it";

    /// <summary>How to start one.</summary>
    public const string Start = "start it: systemctl start libvirt-shim-watch (Debian package), or libvirt-shim watch as a service";

    /// <summary>The lock looked at, the figures read under the caller's lease.</summary>
    public static ListenerView Look(StateReadLease lease, string stateDir) => new(ListenerLock.Probe(stateDir), ListenerMetrics.Read(lease));

    public bool Running => Presence == ListenerPresence.Connected;

    /// <summary>The figures of the listener that runs; null when none does.</summary>
    public ListenerMetrics? Live => Running ? Metrics : null;

    /// <summary>One line for status and doctor.</summary>
    public string Describe(Func<long, string> at)
    {
        string time(long t) => t == 0 ? "never" : at(t);
        if (Live is { } m)
            return $"running (pid {m.Pid}), connected to libvirt ({m.Uri}) since {time(m.ConnectedSince)}; {m.LinksSetUp} links set up and " +
                $"{m.LinksSetDown} set down, {m.Reconciles} reconciles (the last at {time(m.LastReconcileAt)}), {m.Failures} failures" +
                (m.Failures > 0 ? $" (the last: {m.LastFailure})" : "") +
                (m.Repairs + m.RepairFailures > 0 ? $"; {m.Repairs} guests' lost links repaired, {m.RepairFailures} repairs failed" : "") +
                (m.AnnounceFailures > 0 ? $"; {m.AnnounceFailures} of {m.Announces + m.AnnounceFailures} announces could not be sent (the log says why)" : "");
        if (Running) return "running and connected to libvirt (its figures cannot be read)";
        string why = Presence switch
        {
            ListenerPresence.Absent => "no libvirt-shim watch has been connected to libvirt since boot",
            ListenerPresence.Gone => Metrics is { } last
                ? $"libvirt-shim watch (last pid {last.Pid}) is stopped, died, or is waiting for libvirt"
                : "libvirt-shim watch is stopped, died, or is waiting for libvirt",
            _ => "its lock file cannot be looked at",
        };
        return $"not running ({why}): {Cost}";
    }
}
