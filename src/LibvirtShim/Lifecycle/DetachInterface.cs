using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Libvirt;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Lifecycle;

internal sealed record DetachRequest(MacAddress Mac, bool Live, bool Config, TimeSpan Wait);

/// <summary>
/// <c>detach-interface</c>: unplugs an owned NIC, waits (bounded) until the running guest's XML no longer lists it,
/// then removes its &lt;shim:link&gt;, deletes its macvtap (only a link carrying the domain's marks) and gives its name
/// back. What a side not being detached still uses stays: a NIC kept by the definition keeps its name for it. Running it
/// again finishes a detach that stopped half-way.
/// </summary>
internal static class DetachInterface
{
    public static OwnedNic Run(ShimContext context, IGuestDevices guest, DetachRequest request)
    {
        GuestScope scope = GuestScopes.Resolve(guest, request.Live, request.Config);
        var sides = new Dictionary<GuestScope, (DomainDescription Domain, XElement Xml)>();
        if (guest.IsActive) sides[GuestScope.Live] = (GuestScopes.Read(guest, GuestScope.Live, out XElement live), live);
        if (guest.IsPersistent) sides[GuestScope.Config] = (GuestScopes.Read(guest, GuestScope.Config, out XElement config), config);
        DomainDescription domain = sides.Values.First().Domain;
        MacAddress mac = request.Mac;

        GuestScope plugged = 0;
        OwnedNic? nic = null;
        foreach (var (side, (description, xml)) in sides)
        {
            OwnedNic? owned = description.OwnedNics.FirstOrDefault(n => n.Mac == mac);
            if (HotplugXml.FindInterface(xml, mac) is null) continue;
            if (owned is null)
                throw new ShimFailure($"{Describe.Domain(domain)}: NIC {mac} is not libvirt-shim's " +
                    $"(no <shim:link> names it in the {AttachInterface.SideName(side)}); use virsh detach-interface");
            plugged |= side;
            nic ??= owned;
        }
        nic ??= Leftover(context, domain, mac)
            ?? throw new ShimFailure($"{Describe.Domain(domain)}: no NIC has MAC {mac}");

        if ((plugged & scope).HasFlag(GuestScope.Live))
        {
            GuestScopes.Step(domain, nic, "cannot unplug it", () => guest.Detach(HotplugXml.Interface(mac, nic.Name), GuestScope.Live));
            GuestScopes.WaitUnplugged(guest, domain, nic, request.Wait,
                "its link, name and metadata are kept: run detach-interface again once the guest has released it");
        }
        if ((plugged & scope).HasFlag(GuestScope.Config))
            GuestScopes.Step(domain, nic, "cannot remove it from the definition",
                () => guest.Detach(HotplugXml.Interface(mac, nic.Name), GuestScope.Config));
        foreach (GuestScope side in GuestScopes.Sides(scope))
        {
            GuestScopes.Step(domain, nic, $"cannot remove its <shim:link> from the {AttachInterface.SideName(side)}'s metadata", () =>
            {
                string? element = guest.Metadata(side);
                if (HotplugXml.HasLink(element, mac)) guest.SetMetadata(HotplugXml.RemoveLink(element, mac), side);
            });
        }
        bool stillLive = plugged.HasFlag(GuestScope.Live) && !scope.HasFlag(GuestScope.Live);
        bool stillDefined = plugged.HasFlag(GuestScope.Config) && !scope.HasFlag(GuestScope.Config);
        ForgetLink(context, domain, nic, stillLive, stillDefined);
        context.Log.Information("Unplugged NIC {Mac} ({Name}) from {Domain} ({Scope})", nic.Mac, nic.Name, domain.Name, scope);
        return nic;
    }

    /// <summary>A NIC no XML lists any more but the state still holds a name for (a detach that stopped half-way).</summary>
    private static OwnedNic? Leftover(ShimContext context, DomainDescription domain, MacAddress mac)
    {
        using ShimSession session = ShimSession.Open(context);
        NameRecord? record = session.State.OfDomain(domain.Uuid)
            .FirstOrDefault(r => r.Mac == mac && r.Holding is Holding.Created or Holding.Defined or Holding.Reserved);
        return record is null ? null : new OwnedNic(mac, record.Name, record.Lower, null, record.Mode);
    }

    /// <summary>
    /// The NIC's guard goes with its link, before it, only when its record says it had one: the domain's guard becomes the
    /// other NICs' as they are in force (one transaction: they stay guarded throughout).
    /// </summary>
    internal static void GuardTheOthers(ShimContext context, ShimSession session, DomainDescription domain, OwnedNic nic)
    {
        if (session.State.Find(nic.Name) is not { Guard: not GuardMode.Off } record || record.Domain != domain.Uuid) return;
        var others = domain.OwnedNics.Where(n => n.Name != nic.Name);
        GuardLinks.Apply(context.Guards, context.Marker, domain.Uuid, domain.Name,
            GuardLinks.InForce(others, session.State, domain.Uuid, GuardModes.Parse(context.Settings.Guard)));
    }

    /// <summary>
    /// Under the lock: the macvtap goes unless the running guest keeps the NIC (only a link carrying the domain's marks,
    /// by ifindex); the name stays for whichever side still has the NIC.
    /// </summary>
    private static void ForgetLink(ShimContext context, DomainDescription domain, OwnedNic nic, bool stillLive, bool stillDefined)
    {
        using ShimSession session = ShimSession.Open(context);
        if (!stillLive)
        {
            GuardTheOthers(context, session, domain, nic);
            LinkDeletion deletion = DeleteDomainLinks.Run(context.Links, context.Taps, context.Marker, domain.Uuid, domain.Name,
                DeleteDomainLinks.OnNames(context.Links, [nic.Name]).Values);
            foreach (Link other in deletion.NotOurs)
                context.Log.Warning("{Nic}: the link on the name is not this domain's (ifindex {Index}); left alone",
                    Describe.Nic(domain, nic), other.Index);
            if (deletion.Failure is { } failure) throw failure;
        }
        if (session.State.Find(nic.Name) is { } record && record.Domain == domain.Uuid)
        {
            if (stillLive) session.State.Put(record with { InDefinitionToo = stillDefined && record.Holding == Holding.Created });
            else if (stillDefined)
                session.State.Put(record with { Holding = Holding.Defined, Ifindex = 0, InDefinitionToo = false, ExpiresAt = 0 });
            else session.State.Remove(nic.Name);
        }
        session.Commit();
    }
}
