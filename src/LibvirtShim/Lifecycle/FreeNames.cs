using LibvirtShim.Naming;
using LibvirtShim.Netlink;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// Hands out managed names: the next clear bits after the last name handed out (no per-name probing of the kernel),
/// each checked once against the kernel in one batch; a name some unrecorded link sits on is recorded as foreign and
/// another is taken, a bounded number of times.
/// </summary>
internal static class FreeNames
{
    private const int MaxRounds = 16;

    /// <summary>Takes a name for each item, in order, each recorded at once as <paramref name="holdAs"/> says.</summary>
    public static List<string> Take<T>(ShimSession session, IReadOnlyList<T> items, Func<T, string, NameRecord> holdAs, string subject)
    {
        NameState state = session.State;
        PurgeExpiredReservations(state, session.Context.Now);
        GoneDefinitions.Free(session.Context.Settings, state, session.Context.Now);
        var names = new List<string>(items.Count);
        for (int round = 0; names.Count < items.Count; round++)
        {
            if (round == MaxRounds)
                throw new ShimException($"{subject}: no free name found after {MaxRounds} rounds: links nobody recorded sit on the names handed out (run 'libvirt-shim status')");
            var batch = new List<string>();
            while (names.Count + batch.Count < items.Count)
            {
                string name = state.TakeNextFreeName()
                    ?? throw new ShimException($"{subject}: no free name: all {state.Scheme.Capacity} {state.Scheme.Prefix}N names are held (Capacity sets how many)");
                state.Put(holdAs(items[names.Count + batch.Count], name));
                batch.Add(name);
            }
            IReadOnlyList<Link?> links = session.Context.Links.Find(batch);
            var free = new List<string>();
            for (int i = 0; i < batch.Count; i++)
            {
                if (links[i] is { } link)
                    state.Put(new NameRecord(link.Name, Holding.Foreign, Guid.Empty, "", link.Mac, "", link.Mode ?? default, link.Index));
                else
                    free.Add(batch[i]);
            }
            for (int k = 0; k < free.Count; k++) state.Put(holdAs(items[names.Count + k], free[k]));
            names.AddRange(free);
        }
        return names;
    }

    /// <summary>Reservations whose prepare never came (a cancelled migration) give their names back.</summary>
    public static void PurgeExpiredReservations(NameState state, long now)
    {
        foreach (NameRecord expired in state.HeldAs(Holding.Reserved).Where(r => r.ExpiresAt <= now))
            state.Remove(expired.Name);
    }
}
