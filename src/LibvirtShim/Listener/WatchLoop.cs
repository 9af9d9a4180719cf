using System.Diagnostics;
using LibvirtShim.Configuration;
using LibvirtShim.Libvirt;
using LibvirtShim.Logging;
using LibvirtShim.Messages;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;
using Microsoft.Win32.SafeHandles;
using Serilog;

namespace LibvirtShim.Listener;

/// <summary>
/// <c>libvirt-shim watch</c>: keeps every link of the hook's up exactly when its guest's vCPUs run on this host. It connects to
/// libvirt (again and again, backing off, when the daemon is not there), holds the listener's lock while connected (so that
/// <c>prepare</c> creates links down), reconciles every active guest, then looks at a guest again on each of its lifecycle events
/// and metadata changes: level-triggered, it reads the guest's state and owned NICs as they are then and sets the links so; a
/// link it brings up gets QEMU's announce repeated (<see cref="MacAnnouncer"/>).
/// It never takes the state lock: hook calls never wait for it.
/// </summary>
internal sealed class WatchLoop(
    ShimSettings settings, string? uri, LinkTable links, MacAnnouncer? announcer, LinkMarker marker, ILogger baseLog, TimeProvider clock,
    Func<ILibvirtEventSink, IGuestConnection> connect)
{
    /// <summary>The listener's own lines; a guest's and a reconcile's carry their own context, timed from their event.</summary>
    private readonly ILogger _log = CallLog.For(baseLog, "watch", null, null, Stopwatch.GetTimestamp());

    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan LiveLockWait = TimeSpan.FromSeconds(5);

    /// <summary>How soon a reconcile that failed (libvirt or the kernel refused something) is tried again.</summary>
    private static readonly TimeSpan RetryPause = TimeSpan.FromSeconds(1);

    /// <summary>The inbox of the connection being served; null between connections.</summary>
    private volatile ListenerInbox? _inbox;

    private ListenerMetrics _metrics = ListenerMetrics.Starting(Environment.ProcessId, 0, uri ?? "");

    /// <summary>Counted on <see cref="UplinkRepair"/>'s thread, copied into the figures when they are saved.</summary>
    private long _repairs, _repairFailures;
    private readonly StateFiles _files = new(StateDirectory.Canonical(settings.StateDir));

    /// <summary>Each guest as last seen (its link names above all), for <see cref="Anticipate"/>.</summary>
    private readonly Dictionary<Guid, GuestSnapshot> _known = [];
    private string StateDir => settings.StateDir;
    private long Now => clock.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>
    /// Until <paramref name="stop"/>. Throws (one line) only when it cannot start (another listener runs, an unsafe state
    /// directory) or a lock it must hold is held by something else.
    /// </summary>
    public void Run(CancellationToken stop)
    {
        using SafeFileHandle instance = ListenerLock.HoldInstance(StateDir, Environment.ProcessId);
        _metrics = ListenerMetrics.Starting(Environment.ProcessId, Now, uri ?? "libvirt's default URI");
        Save();
        _log.Information("Listener started (pid {Pid}, state directory {StateDir}): links follow their guests' vCPUs once connected to {Uri}",
            Environment.ProcessId, StateDir, _metrics.Uri);
        TimeSpan pause = FirstPause;
        string? outage = null;
        while (!stop.IsCancellationRequested)
        {
            var inbox = new ListenerInbox();
            IGuestConnection connection;
            try
            {
                connection = connect(inbox);
            }
            catch (ShimFailure e)
            {
                string why = e.Advice is { } advice ? $"{e.Message} ({advice})" : e.Message;
                if (outage != why)
                    _log.Warning("Cannot connect to libvirt ({Uri}): {Problem}; trying again, every {Pause} s at most", _metrics.Uri, why,
                        LongestPause.TotalSeconds);
                outage = why;
                Failed(why);
                stop.WaitHandle.WaitOne(pause);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, LongestPause.Ticks));
                continue;
            }
            pause = FirstPause;
            outage = null;
            _inbox = inbox;
            using (connection) Serve(connection, inbox, stop);
            _inbox = null;
        }
        _metrics = _metrics with { Connected = false };
        Save();
        _log.Information("Listener stopped");
    }

    /// <summary>While connected: the live lock held, a reconcile, then each guest looked at again as its events come.</summary>
    private void Serve(IGuestConnection guests, ListenerInbox inbox, CancellationToken stop)
    {
        using SafeFileHandle live = ListenerLock.HoldLive(StateDir, LiveLockWait);
        _metrics = _metrics with { Connected = true, ConnectedSince = Now, Connections = _metrics.Connections + 1 };
        _log.Information("Connected to libvirt ({Uri}); reconciling every active guest", _metrics.Uri);
        bool reconcile = true;
        while (!stop.IsCancellationRequested)
        {
            if (reconcile) reconcile = !Reconcile(guests);
            Save();
            switch (inbox.Take(reconcile ? RetryPause : Timeout.InfiniteTimeSpan, stop))
            {
                case ListenerSignal.ConnectionClosed closed:
                    _log.Warning("Lost libvirt ({Uri}): {Reason}; links stay as they are until the listener reconnects and reconciles",
                        _metrics.Uri, closed.Reason);
                    _metrics = _metrics with { Connected = false };
                    Save();
                    return;
                case ListenerSignal.GuestChanged changed:
                    if (changed.LastEvent != ListenerInbox.LinksRepaired) _metrics = _metrics with { Events = _metrics.Events + 1 };
                    if (!Follow(guests, changed)) reconcile = true;
                    break;
            }
        }
    }

    /// <summary>
    /// From another thread: look at the guest again, as after an event of its own (<see cref="UplinkRepair"/> made its links
    /// again: they follow its vCPUs from now on, even where its state changed while they were being made). Between connections
    /// nothing is needed: the reconcile after the next one looks at every guest.
    /// </summary>
    public void Repaired(Guid domain)
    {
        Interlocked.Increment(ref _repairs);
        _inbox?.DomainChanged(domain, ListenerInbox.LinksRepaired, 0);
    }

    /// <summary>From another thread: a repair <see cref="UplinkRepair"/> tried failed (it logged why); counted in the figures.</summary>
    public void RepairFailed()
    {
        Interlocked.Increment(ref _repairFailures);
        _inbox?.FiguresChanged();
    }

    /// <summary>Every active guest's links as its state says. False when something failed (logged): the caller tries again.</summary>
    private bool Reconcile(IGuestSource guests)
    {
        ILogger reconcileLog = CallLog.For(baseLog, "watch", null, null, Stopwatch.GetTimestamp());
        try
        {
            IReadOnlyList<GuestSnapshot> active = guests.Active();
            _known.Clear();
            foreach (GuestSnapshot guest in active) _known[guest.Uuid] = guest;
            FollowResult result = LinkFollower.Apply(links, marker, active, announcer);
            Count(result);
            _metrics = _metrics with { Reconciles = _metrics.Reconciles + 1, LastReconcileAt = Now };
            reconcileLog.Information("Reconciled {Guests} active guests: {Up} links set up, {Down} set down{Changes}", active.Count, result.SetUp,
                result.SetDown, Describe(result.Done));
            return Report(reconcileLog, result);
        }
        catch (ShimFailure e)
        {
            reconcileLog.Error("Reconcile failed: {Problem}; trying again in {Pause} s", e.Message, RetryPause.TotalSeconds);
            Failed(e.Message);
            return false;
        }
    }

    /// <summary>One guest looked at again after its events. False when something failed (logged): a reconcile follows.</summary>
    private bool Follow(IGuestSource guests, ListenerSignal.GuestChanged changed)
    {
        ILogger guestLog = CallLog.For(baseLog, "watch", null, changed.Uuid, changed.HeardAt);
        try
        {
            bool anticipated = Anticipate(changed);
            if (guests.Find(changed.Uuid) is not { } guest)
            {
                _known.Remove(changed.Uuid);
                guestLog.Debug("After '{Event}': libvirt no longer knows the guest", changed.Event);
                return anticipated;
            }
            _known[guest.Uuid] = guest;
            guestLog = CallLog.For(baseLog, "watch", guest.Name, guest.Uuid, changed.HeardAt);
            FollowResult result = LinkFollower.Apply(links, marker, [guest], announcer);
            Count(result);
            if (result.Done.Count > 0)
                guestLog.Information("{State} after '{Event}': links {Links} set {Direction} (the elapsed time counts from libvirt's event)",
                    guest.Describe(), changed.Event, string.Join(", ", result.Done.Select(c => c.Link.Name)), result.Done[0].Up ? "up" : "down");
            else
                guestLog.Debug("{State} after '{Event}': its links are as they should be", guest.Describe(), changed.Event);
            return Report(guestLog, result) && anticipated;
        }
        catch (ShimFailure e)
        {
            guestLog.Error("After '{Event}': {Problem}; reconciling every guest in {Pause} s", changed.Event, e.Message, RetryPause.TotalSeconds);
            Failed(e.Message);
            return false;
        }
    }

    /// <summary>
    /// What a resumed or suspended event says, acted on at once with the links the guest was last seen with (two libvirt calls
    /// and an XML parse sooner: at a switchover every millisecond the link is not up yet may cost a frame): the look that
    /// follows confirms it or puts it right. False when the kernel refused something (logged).
    /// </summary>
    private bool Anticipate(ListenerSignal.GuestChanged changed)
    {
        if (LifecycleEvents.Implied(changed.LastEvent) is not { } state || !_known.TryGetValue(changed.Uuid, out GuestSnapshot? known)) return true;
        GuestSnapshot said = known with { State = state, Reason = 0 };
        FollowResult result = LinkFollower.Apply(links, marker, [said], announcer);
        Count(result);
        ILogger guestLog = CallLog.For(baseLog, "watch", known.Name, known.Uuid, changed.HeardAt);
        if (result.Done.Count > 0)
            guestLog.Information("'{Event}': links {Links} set {Direction} on the event's word (libvirt is asked next; the elapsed time counts " +
                "from libvirt's event)", changed.Event, string.Join(", ", result.Done.Select(c => c.Link.Name)), result.Done[0].Up ? "up" : "down");
        return Report(guestLog, result);
    }

    /// <summary>
    /// Links the kernel refused to change: one gone since it was looked up (ENODEV: its guest's release deleted it) is nothing to do;
    /// anything else is logged and counted, and false asks for a reconcile.
    /// </summary>
    private bool Report(ILogger callLog, FollowResult result)
    {
        bool ok = true;
        foreach ((LinkChange change, NetlinkError error) in result.Refused)
        {
            if (error.Errno == Errno.ENODEV) continue;
            callLog.Error("Could not set link {Name} (ifindex {Index}) of {Domain} {Direction}: {Error}", change.Link.Name, change.Link.Index,
                change.Guest.Name, change.Up ? "up" : "down", error.Describe());
            Failed($"link {change.Link.Name}: {error.Describe()}");
            ok = false;
        }
        foreach ((LinkChange change, Errno error) in result.Unannounced)
            callLog.Warning("Link {Name} of {Domain} is up, but its announce (a RARP from {Mac}) could not be sent: {Error}", change.Link.Name,
                change.Guest.Name, change.Link.Mac, error.Describe());
        return ok;
    }

    /// <summary>" (web1: mvtap3 up, ...)": the first 20 changes of a reconcile.</summary>
    private static string Describe(IReadOnlyList<LinkChange> done) => done.Count == 0 ? ""
        : " (" + string.Join(", ", done.Take(20).Select(c => $"{c.Guest.Name}: {c.Link.Name} {(c.Up ? "up" : "down")}"))
            + (done.Count > 20 ? $", and {done.Count - 20} more" : "") + ")";

    private void Count(FollowResult result) => _metrics = _metrics with
    {
        LinksSetUp = _metrics.LinksSetUp + result.SetUp,
        LinksSetDown = _metrics.LinksSetDown + result.SetDown,
        Announces = _metrics.Announces + result.Announced,
        AnnounceFailures = _metrics.AnnounceFailures + result.Unannounced.Count,
    };

    private void Failed(string why) => _metrics = _metrics with { Failures = _metrics.Failures + 1, LastFailure = why };

    /// <summary>The figures for status; a state directory that cannot take them costs the figures, not the listener.</summary>
    private void Save()
    {
        try
        {
            _metrics = _metrics with { Repairs = Interlocked.Read(ref _repairs), RepairFailures = Interlocked.Read(ref _repairFailures) };
            _metrics.Write(_files);
        }
        catch (ShimFailure e)
        {
            _log.Warning("Could not write {File}: {Problem}", StateFile.ListenerMetrics.Name, e.Message);
        }
    }
}
