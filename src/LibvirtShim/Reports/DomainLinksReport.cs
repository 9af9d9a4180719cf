using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Messages;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Reports;

/// <summary>
/// What a domain has after a hook call, for <c>replay</c>: the links carrying its marks (with each one's lower device's
/// name) and the names the state holds for it, grouped by why.
/// </summary>
internal sealed record DomainLinksReport(IReadOnlyList<(Link Link, string Lower)> Links, IReadOnlyList<(Holding Holding, List<string> Names)> Held)
{
    /// <summary>The report for the domain of <paramref name="xml"/>; null when the XML names no domain.</summary>
    public static DomainLinksReport? For(byte[] xml, ShimSettings settings, LinkMarker marker)
    {
        Guid uuid;
        try
        {
            uuid = DomainReader.ReadLenient(DomainXml.Parse(xml)).Uuid;
        }
        catch (ShimFailure)
        {
            return null;
        }
        using LinkTable table = LinkTable.Open();
        IReadOnlyList<Link> all = table.Dump();
        var lowers = all.ToDictionary(l => l.Index, l => l.Name);
        var ours = all.Where(l => marker.IsOwnedBy(l, uuid)).OrderBy(l => l.Index)
            .Select(l => (l, lowers.GetValueOrDefault(l.LowerIndex, "?"))).ToList();
        using StateReadLease lease = ShimContext.StoreFor(settings).LockToRead();
        var records = lease.Load(new NameScheme(settings.NamePrefix, settings.Capacity)).State?.OfDomain(uuid) ?? [];
        var held = records.GroupBy(r => r.Holding)
            .Select(g => (g.Key, g.Select(r => r.Name).OrderBy(n => n.Length).ThenBy(n => n, StringComparer.Ordinal).ToList())).ToList();
        return new DomainLinksReport(ours, held);
    }
}
