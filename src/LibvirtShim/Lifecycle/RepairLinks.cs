using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Libvirt;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Netfilter;
using LibvirtShim.Netlink;
using LibvirtShim.Session;

namespace LibvirtShim.Lifecycle;

/// <summary>What <see cref="RepairLinks.Run"/> did for one NIC: its link made again (<see cref="Recreated"/>), and plugged in again.</summary>
internal sealed record RepairedNic(OwnedNic Nic, bool Recreated);

/// <summary>
/// <c>repair</c>: an uplink deleted and made again (ifdown/ifup, a NIC driver reloaded) takes every macvtap on it along,
/// and the guest keeps running with a NIC whose device is gone. For a running guest, each owned NIC whose link is gone is
/// made again by <see cref="PrepareLinks"/> (name, MAC, mode, MTU, source MACs, marks, tap node, guard: everything a start
/// applies), and each NIC whose link QEMU does not hold (the one just made, or one a repair made before the guest let its
/// old NIC go) is unplugged and plugged in again through libvirt, which opens the new link's node: QEMU kept a descriptor
/// of the deleted device. The event listener calls the same when an uplink comes back.
/// </summary>
internal static class RepairLinks
{
    /// <summary>
    /// Repairs the running guest's NICs; returns what it did (nothing when every link is there and held). Any failure
    /// is one line naming the domain, the NIC and the step; what was done before it stays (a repair run again finishes it).
    /// </summary>
    public static List<RepairedNic> Run(ShimContext context, IGuestDevices guest, TimeSpan wait)
    {
        if (!guest.IsActive) throw new ShimFailure($"domain '{guest.Name}' is not running: nothing to repair (a start creates its links)");
        DomainDescription domain = GuestScopes.Read(guest, GuestScope.Live, out XElement live);
        LinkStart start = LinkStart.ForGuest(context.Settings.StateDir, guest.VcpusRun);
        List<RepairedNic> repairs = Recreate(context, domain, start);
        foreach (RepairedNic repair in repairs) PlugAgain(guest, domain, live, repair.Nic, wait);
        foreach (RepairedNic repair in repairs)
            context.Log.Information("{Nic}: {What}", Describe.Nic(domain, repair.Nic),
                repair.Recreated ? $"link lost with its uplink: made again ({start.Describe()}) and the NIC plugged in again" : "NIC plugged in again");
        return repairs;
    }

    /// <summary>
    /// Under the lock: the owned NICs whose link is gone are made again, all in one prepare; those whose link is there but
    /// not held by the guest's QEMU (known from its status file) are to be plugged in again only. The links made again are
    /// up or down as <paramref name="start"/> says (down while a listener runs and the guest's vCPUs do not: it brings them up).
    /// </summary>
    private static List<RepairedNic> Recreate(ShimContext context, DomainDescription domain, LinkStart start)
    {
        using ShimSession session = ShimSession.Open(context);
        Dictionary<string, Link> links = DeleteDomainLinks.OnNames(context.Links, domain.OwnedNics.Select(n => n.Name));
        int? qemu = DomainInventory.GuestPid(context.Settings.LibvirtRunDir, domain.Name);
        var repairs = new List<RepairedNic>();
        foreach (OwnedNic nic in domain.OwnedNics)
        {
            if (!links.TryGetValue(nic.Name, out Link link)) repairs.Add(new RepairedNic(nic, Recreated: true));
            else if (qemu is { } pid && context.Marker.IsOwnedBy(link, domain.Uuid) && !context.Taps.IsOpenIn(pid, link.Index))
                repairs.Add(new RepairedNic(nic, Recreated: false));
        }
        var lost = repairs.Where(r => r.Recreated).Select(r => r.Nic).ToList();
        if (lost.Count == 0) return repairs;
        // The domain's whole guard, as it was given (its records), put in place again with the links made again: the other
        // NICs keep theirs, and each lost one gets its own back on its new device.
        List<LinkGuard> wholeGuard = GuardLinks.InForce(domain.OwnedNics, session.State, domain.Uuid, GuardModes.Parse(context.Settings.Guard));
        PrepareLinks.Run(session, context.Settings, context.Links, context.OpenGuards, context.Taps, context.Marker, context.Log, context.Now,
            domain with { OwnedNics = lost, LibvirtMacvtaps = [] }, start, wholeGuard);
        return repairs;
    }

    /// <summary>The NIC unplugged (waiting, bounded, for the guest to let it go) and plugged in again as it was.</summary>
    private static void PlugAgain(IGuestDevices guest, DomainDescription domain, XElement live, OwnedNic nic, TimeSpan wait)
    {
        XElement element = HotplugXml.FindInterface(live, nic.Mac)
            ?? throw new ShimFailure($"{Describe.Nic(domain, nic)}: the running guest's XML has no NIC with this MAC");
        string device = HotplugXml.AsPlugged(element);
        GuestScopes.Step(domain, nic, "cannot unplug it to plug it in again", () => guest.Detach(device, GuestScope.Live));
        GuestScopes.WaitUnplugged(guest, domain, nic, wait,
            "its link is in place: run repair again once the guest has let the NIC go, or restart the guest");
        GuestScopes.Step(domain, nic, "cannot plug it in again", () => guest.Attach(device, GuestScope.Live));
    }

    /// <summary>
    /// The running guests (their status files) with an owned NIC whose link is gone, found in one batched lookup: what a
    /// repair without a domain repairs.
    /// </summary>
    public static List<string> DomainsWithLostLinks(ShimContext context) => FindLost(context).ConvertAll(l => l.Domain);

    /// <summary>
    /// The running guests (their status files) with an owned NIC whose link is gone, by name, each with the lower devices
    /// those NICs are on (Uplinks and Networks applied): what the listener waits to see again. One batched lookup.
    /// </summary>
    public static List<LostLinks> FindLost(ShimContext context)
    {
        var running = DomainInventory.Read(context.Settings.LibvirtRunDir, context.Log).Values.Where(d => d.OwnedNics.Count > 0).ToList();
        Dictionary<string, Link> links = DeleteDomainLinks.OnNames(context.Links, running.SelectMany(d => d.OwnedNics).Select(n => n.Name));
        var lost = new List<LostLinks>();
        foreach (DomainDescription domain in running.OrderBy(d => d.Name, StringComparer.Ordinal))
        {
            ResolvedLower[] lowers = LowerDevices.ResolveAll(context.Settings, domain);
            var gone = Enumerable.Range(0, lowers.Length).Where(i => !links.ContainsKey(domain.OwnedNics[i].Name)).ToList();
            if (gone.Count > 0)
                lost.Add(new LostLinks(domain.Name, domain.Uuid, gone.Select(i => lowers[i].Device).OfType<string>().Distinct().ToList()));
        }
        return lost;
    }
}

/// <summary>A running guest whose owned NICs' links are gone, and the lower devices those NICs are on.</summary>
internal sealed record LostLinks(string Domain, Guid Uuid, IReadOnlyList<string> Lowers);
