using LibvirtShim.Lifecycle;
using LibvirtShim.State;
using LibvirtShim.Reports;
using LibvirtShim.Session;

namespace LibvirtShim.Reports;

/// <summary>status and doctor free the names held for definitions that are gone, and show them once, as they free them.</summary>
internal static class GoneDefinitionsReport
{
    /// <summary>Frees them in <paramref name="state"/> and saves it, under the caller's lock; returns what was freed.</summary>
    public static List<NameRecord> Free(ShimContext context, StateLease lease, NameState? state) =>
        Free(context.Settings, lease, state, context.Now);

    public static List<NameRecord> Free(Configuration.ShimSettings settings, StateLease lease, NameState? state, long now)
    {
        if (state is null) return [];
        List<NameRecord> freed = GoneDefinitions.Free(settings, state, now);
        if (freed.Count > 0) lease.Save(state);
        return freed;
    }

    public static AuditEntry Entry(NameRecord record) =>
        new(record.Name, record.Lower, record.DomainName, record.Domain, record.Mac, record.Mode, record.Holding, 0, LinkPresence.Absent,
            AuditProblem.DefinitionGone);
}
