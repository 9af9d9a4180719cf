using LibvirtShim.Configuration;
using LibvirtShim.Messages;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// Hands out managed names: the next clear bits after the last name handed out (no per-name probing of the kernel),
/// each checked once against the kernel in one batch; a name some unrecorded link sits on is recorded as foreign and
/// another is taken, until no name is left. What the kernel showed is kept even when the call fails.
/// </summary>
internal static class TakeFreeNames
{
    /// <summary>Takes a name for each item, in order, each recorded at once as <paramref name="holdAs"/> says.</summary>
    public static List<string> Run<T>(
        ShimSession session, LinkTable links, ShimSettings settings, long now, IReadOnlyList<T> items, Func<T, string, NameRecord> holdAs,
        string subject)
    {
        NameState state = session.State;
        state.DropExpiredReservations(now);
        GoneDefinitions.Free(settings, session.Lease, state, now);
        var names = new List<string>(items.Count);
        var found = new List<NameRecord>();
        while (names.Count < items.Count)
        {
            var batch = new List<string>();
            while (names.Count + batch.Count < items.Count && state.TakeNextFreeName() is { } name)
            {
                state.Put(holdAs(items[names.Count + batch.Count], name));
                batch.Add(name);
            }
            bool ranOut = names.Count + batch.Count < items.Count;
            IReadOnlyList<Link?> onNames = batch.Count > 0 ? links.Find(batch) : [];
            var free = new List<string>();
            for (int i = 0; i < batch.Count; i++)
            {
                if (onNames[i] is { } link)
                {
                    var foreign = new NameRecord(batch[i], Holding.Foreign, Guid.Empty, "", link.Mac, "", link.Mode ?? default, link.Index);
                    state.Put(foreign);
                    found.Add(foreign);
                }
                else
                    free.Add(batch[i]);
            }
            if (ranOut)
            {
                session.CommitFound(found, state.Cursor);
                throw new ShimFailure($"{subject}: no free name: " +
                    $"all {state.Scheme.Capacity} {state.Scheme.Prefix}N names are held (Capacity sets how many)");
            }
            for (int k = 0; k < free.Count; k++) state.Put(holdAs(items[names.Count + k], free[k]));
            names.AddRange(free);
        }
        return names;
    }
}
