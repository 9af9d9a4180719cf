using System.Globalization;
using System.Text.RegularExpressions;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>The three flows' figures for one NIC of the migrating guest.</summary>
public sealed record NicFlows(string Nic, FlowFigures Lan, FlowFigures DestinationNeighbour, FlowFigures SourceNeighbour);

/// <summary>
/// What one migration cost each NIC from each side: the LAN host, a neighbour on the destination's uplink, a neighbour on the
/// source's uplink; plus when libvirt said what (lifecycle events of both daemons) and when the links changed.
/// </summary>
public sealed record NeighbourFigures(
    string Direction, double MigrateSeconds, NicFlows Owned, NicFlows Direct, IReadOnlyList<LifecycleEvent> Events,
    IReadOnlyList<LinkChangeSeen> LinkChanges, double? EventToUpMs, double? EventToDownMs, double? DirectUpBeforeOwnedMs,
    IReadOnlyList<double> ListenerDelaysMs, IReadOnlyList<string> DestinationFrames, string OwnedMac, string DirectMac)
{
    /// <summary>
    /// When the switch first heard each NIC's MAC from the destination (tcpdump's time of the first frame with it as source on the
    /// destination's port), relative to the destination's owned link coming up: the LAN host's loss ends when the switch has
    /// learned the MAC there.
    /// </summary>
    public string FirstFrames()
    {
        DateTimeOffset? up = LinkChanges.FirstOrDefault(c => c.Up && c.Name == DestinationOwnedLink)?.At;
        string First(string mac)
        {
            string? frame = DestinationFrames.FirstOrDefault(f => f.Contains(mac + " >", StringComparison.Ordinal));
            if (frame is null) return "none";
            var at = DateTimeOffset.FromUnixTimeMilliseconds((long)(double.Parse(frame.Split(' ')[0], CultureInfo.InvariantCulture) * 1000));
            string what = MigrationWatch.IsAnnounce(frame) ? "RARP" : "a frame";
            return up is { } u ? $"{what} at {(at - u).TotalMilliseconds:+0;-0;0} ms" : $"{what} at {at:HH:mm:ss.fff}";
        }
        return $"first frames from the destination, relative to its owned link up: owned NIC {First(OwnedMac)}, direct NIC {First(DirectMac)}; " +
            $"RARPs with the owned NIC's MAC: " +
            DestinationFrames.Count(f => f.Contains(OwnedMac + " >", StringComparison.Ordinal) && MigrationWatch.IsAnnounce(f));
    }

    public string DestinationOwnedLink { get; init; } = "";

    public string Summary()
    {
        static string Row(string who, FlowFigures owned, FlowFigures direct) =>
            $"{who}: owned NIC {owned.Lost} of {owned.Sent} lost (gap {owned.LongestGapMs} ms), direct NIC {direct.Lost} of {direct.Sent} " +
            $"(gap {direct.LongestGapMs} ms)";
        string Ms(double? ms) => ms is { } v ? $"{v:0.0} ms" : "not seen";
        return $"{Direction}: virsh migrate {MigrateSeconds:0.0}s; pings every 20 ms; " +
            Row("LAN host", Owned.Lan, Direct.Lan) + "; " +
            Row("neighbour on the destination's uplink", Owned.DestinationNeighbour, Direct.DestinationNeighbour) + "; " +
            Row("neighbour on the source's uplink", Owned.SourceNeighbour, Direct.SourceNeighbour) + "; " +
            $"destination's resume event (virsh event) to its owned link up (ip monitor): {Ms(EventToUpMs)}; " +
            $"source's suspend event to its owned link down: {Ms(EventToDownMs)}; " +
            $"libvirt's direct NIC up before the owned one by {Ms(DirectUpBeforeOwnedMs)}; " +
            $"the listener's own delays, event heard to netlink ack: {string.Join(", ", ListenerDelaysMs.Select(d => $"{d:0.0} ms"))}; " +
            FirstFrames() + "; " + AnsweredAgain();
    }

    /// <summary>When each flow was answered again after its longest gap, relative to the destination's owned link coming up.</summary>
    public string AnsweredAgain()
    {
        DateTimeOffset? up = LinkChanges.FirstOrDefault(c => c.Up && c.Name == DestinationOwnedLink)?.At;
        string When(FlowFigures f) => up is { } u && f.AnsweredAgainAt is { } a ? $"{(a - u).TotalMilliseconds:+0;-0;0} ms" : "-";
        return "answered again, relative to the owned link up: LAN host owned " + When(Owned.Lan) + " direct " + When(Direct.Lan) +
            ", destination's neighbour owned " + When(Owned.DestinationNeighbour) + " direct " + When(Direct.DestinationNeighbour) +
            ", source's neighbour owned " + When(Owned.SourceNeighbour) + " direct " + When(Direct.SourceNeighbour);
    }

    public string Timeline() => string.Join("\n  ", Events.Select(e => e.ToString()).Concat(LinkChanges.Select(c => c.ToString()))
        .OrderBy(l => l, StringComparer.Ordinal));
}

/// <summary>
/// Watches a migration from every side that matters to a guest's neighbours: for each NIC of the guest (one owned, one
/// libvirt `direct`, on the same uplink), echo requests every 20 ms from the LAN host, from a neighbour on the destination's
/// uplink and from one on the source's; both daemons' lifecycle events; every change of the links' up flags.
/// </summary>
public sealed partial class NeighbourWatch : IDisposable
{
    private readonly List<PingFlow> _flows = [];
    private readonly EventLog _events;
    private readonly FrameCapture _capture;
    private readonly string _direction;
    private readonly (string Owned, string Direct) _macs;

    public NeighbourWatch(string direction, GuestLanNic owned, GuestLanNic direct, Neighbour atDestination, Neighbour atSource,
        params (string Daemon, Virsh Virsh)[] daemons)
    {
        _direction = direction;
        _macs = (owned.Nic.Mac, direct.Nic.Mac);
        _capture = new FrameCapture(atDestination.Uplink + "p", owned.Nic.Mac, direct.Nic.Mac);
        _events = new EventLog(daemons);
        foreach ((string nic, GuestLanNic lanNic) in new[] { ("owned", owned), ("direct", direct) })
        {
            string address = lanNic.Address.V4;
            _flows.Add(new PingFlow($"LAN host -> {nic} NIC", Lan.Namespace, address));
            _flows.Add(new PingFlow($"neighbour on the destination's uplink -> {nic} NIC", atDestination.Netns, address));
            _flows.Add(new PingFlow($"neighbour on the source's uplink -> {nic} NIC", atSource.Netns, address));
        }
        foreach (PingFlow flow in _flows) flow.WaitAnswers(10, "before the migration", TimeSpan.FromSeconds(30));
    }

    /// <summary>The lifecycle events seen so far of <paramref name="guest"/>.</summary>
    public List<LifecycleEvent> Events(string guest) => _events.Lifecycle(guest);

    /// <summary>
    /// After the migration: waits (bounded) for 50 more answers on every flow, stops them and returns the figures.
    /// <paramref name="links"/>: the owned and direct links' names on the source and the destination; <paramref name="listenerLog"/>:
    /// the destination's and source's hook logs since the migration began (the listener's lines give its own delays).
    /// </summary>
    public NeighbourFigures Finish(string guest, double migrateSeconds, (string Owned, string Direct) source,
        (string Owned, string Direct) destination, string listenerLog)
    {
        foreach (PingFlow flow in _flows) flow.WaitAnswers(50, $"after {_direction}");
        FlowFigures[] f = _flows.Select(flow => flow.Stop()).ToArray();
        _capture.Stop();
        List<LifecycleEvent> events = _events.Lifecycle(guest);
        List<LinkChangeSeen> links = _events.Links(source.Owned, source.Direct, destination.Owned, destination.Direct);
        string? arrival = DestinationDaemon(events);
        DateTimeOffset? resumed = events.FirstOrDefault(e => e.Daemon == arrival && e.What.StartsWith("Resumed", StringComparison.Ordinal))?.At;
        DateTimeOffset? suspended = events.FirstOrDefault(e => e.Daemon != arrival && e.What.StartsWith("Suspended", StringComparison.Ordinal))?.At;
        DateTimeOffset? ownedUp = links.FirstOrDefault(c => c.Name == destination.Owned && c.Up)?.At;
        DateTimeOffset? directUp = links.FirstOrDefault(c => c.Name == destination.Direct && c.Up)?.At;
        DateTimeOffset? ownedDown = links.FirstOrDefault(c => c.Name == source.Owned && !c.Up)?.At;
        return new NeighbourFigures(_direction, migrateSeconds, new NicFlows("owned", f[0], f[1], f[2]), new NicFlows("direct", f[3], f[4], f[5]),
            events, links, Between(resumed, ownedUp), Between(suspended, ownedDown), Between(directUp, ownedUp), ListenerDelays(listenerLog),
            _capture.Frames, _macs.Owned, _macs.Direct)
        { DestinationOwnedLink = destination.Owned };
    }

    /// <summary>The daemon whose guest started by migration (its "Started Migrated" event).</summary>
    private static string? DestinationDaemon(List<LifecycleEvent> events) =>
        events.FirstOrDefault(e => e.What.StartsWith("Started", StringComparison.Ordinal))?.Daemon;

    private static double? Between(DateTimeOffset? from, DateTimeOffset? to) => from is { } a && to is { } b ? (b - a).TotalMilliseconds : null;

    /// <summary>
    /// The listener's lines "... 1.3ms pid N: running (migrated) after '...': links X set up ..." (and those it writes when it acts
    /// on the event's word): its elapsed times.
    /// </summary>
    public static List<double> ListenerDelays(string log) => ListenerLine().Matches(log)
        .Select(m => double.Parse(m.Groups["ms"].Value, CultureInfo.InvariantCulture)).ToList();

    public void Dispose()
    {
        foreach (PingFlow flow in _flows) flow.Dispose();
        _events.Dispose();
        _capture.Dispose();
    }

    [GeneratedRegex(@"\] watch \S+ \S+ (?<ms>\d+(?:\.\d+)?)ms pid \d+: .*'[^']*': links .* set (up|down)\b.*the elapsed time counts")]
    private static partial Regex ListenerLine();
}
