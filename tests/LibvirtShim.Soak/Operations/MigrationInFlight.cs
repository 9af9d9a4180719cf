using System.Diagnostics;
using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Checks;
using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.World;

namespace LibvirtShim.Soak.Operations;

/// <summary>What one look at a migration in flight saw: whether it was seen at all, and what was wrong.</summary>
public sealed record InFlightLook(bool Seen, string Text, string? Problem)
{
    public static InFlightLook NotSeen(string why) => new(false, why, null);
}

/// <summary>
/// The links of a migration while it runs (issue 21): the arriving guest's owned links exist on the destination and are
/// down, its vCPUs not running yet, while the source's are up as long as the source runs. Looked at once, inside a
/// capped migration's cap, when every arriving link exists. Each state is read after the links, so a state still
/// "paused" on the destination (still "running" on the source) proves the links were read before the resume (before the
/// suspend) that the listener follows; a look that cannot prove it is not judged. Nor is one whose destination listener
/// was not connected throughout (from before the look to the judging, no reconnect between): its `prepare` then made the
/// links up at once, as it does without a listener, and the listener's reconcile takes them down once it is back.
/// </summary>
public static class MigrationInFlight
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    public static InFlightLook Look(SoakWorld world, string guest, Site from, Site to, Task<CmdResult> migration, TimeSpan within)
    {
        SoakSite source = world[from], destination = world[to];
        var watch = Stopwatch.StartNew();
        ListenerFigures? before = world.Listener(to).Figures();
        IReadOnlyList<LiveNic>? leaving = null;
        while (!migration.IsCompleted && watch.Elapsed < within)
        {
            leaving ??= Owned(source, guest);
            IReadOnlyList<LiveNic>? arriving = Owned(destination, guest);
            if (arriving is { Count: > 0 } && leaving is { Count: > 0 })
            {
                var links = IpLinks.All().ToDictionary(l => l.Name, StringComparer.Ordinal);
                string arrivingState = destination.Virsh.DomState(guest), leavingState = source.Virsh.DomState(guest);
                if (arriving.All(n => links.ContainsKey(n.Dev)))
                {
                    if (migration.IsCompleted || arrivingState != "paused")
                        return InFlightLook.NotSeen($"done before its links were seen (destination {arrivingState})");
                    if (!ConnectedThroughout(before, world.Listener(to).Figures()))
                        return InFlightLook.NotSeen($"the listener on {destination.Label} was not connected throughout: links made up at once");
                    return Judge(arriving, leaving, links, leavingState, source, destination, watch.Elapsed);
                }
            }
            Thread.Sleep(Interval);
        }
        return InFlightLook.NotSeen(migration.IsCompleted ? "done before its links were seen" : "its links not all made within the cap");
    }

    private static InFlightLook Judge(IReadOnlyList<LiveNic> arriving, IReadOnlyList<LiveNic> leaving, Dictionary<string, KernelLink> links,
        string leavingState, SoakSite source, SoakSite destination, TimeSpan at)
    {
        var problems = arriving.Where(n => links[n.Dev].AdminUp)
            .Select(n => $"{n.Dev} on {destination.Label} is up while the arriving guest is paused").ToList();
        bool judgeSource = leavingState == "running";
        if (judgeSource)
        {
            problems.AddRange(leaving.Where(n => !links.TryGetValue(n.Dev, out KernelLink? l) || !l.AdminUp)
                .Select(n => $"{n.Dev} on {source.Label} is {(links.ContainsKey(n.Dev) ? "down" : "gone")} while the leaving guest runs"));
        }
        string text = $"in flight at {at.TotalSeconds:0.0} s: {arriving.Count} arriving link(s) down on {destination.Label}" +
            (judgeSource ? $", {leaving.Count} leaving up on {source.Label}" : $" (source {leavingState}: not judged)");
        return problems.Count == 0 ? new(true, text, null) : new(true, $"in flight at {at.TotalSeconds:0.0} s", string.Join("; ", problems));
    }

    private static bool ConnectedThroughout(ListenerFigures? before, ListenerFigures? after) =>
        before is not null && after is not null && before["connected"] == 1 && after["connected"] == 1 &&
        before["connections"] == after["connections"];

    private static IReadOnlyList<LiveNic>? Owned(SoakSite site, string guest) =>
        WorldView.LiveNics(site, guest) is { Count: > 0 } nics ? nics.Where(n => n.Owned && n.Dev.Length > 0).ToList() : null;
}
