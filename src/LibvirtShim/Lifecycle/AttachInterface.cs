using System.Xml.Linq;
using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Libvirt;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Netfilter;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Lifecycle;

/// <summary>What <c>attach-interface</c> is asked for: exactly one of <see cref="Source"/> and <see cref="Network"/>.</summary>
internal sealed record AttachRequest(
    string? Source, string? Network, MacvtapMode Mode, MacAddress? Mac, int? Mtu, bool Live, bool Config, MacAddressSet? SourceMacs = null,
    GuardMode? Guard = null, IReadOnlyList<IpPrefix>? Ips = null);

/// <summary>The NIC a hot-plug added, and where.</summary>
internal sealed record AttachedNic(OwnedNic Nic, GuestScope Scope, int? Ifindex);

/// <summary>
/// <c>attach-interface</c>: hot-plugs an owned NIC. A name from the bitmap, held for the domain; on the running guest
/// its macvtap made by <see cref="PrepareLinks"/> (the same plan, checks, marks and link settings as a guest start; up when
/// the guest's vCPUs run or no listener runs, as <see cref="LinkStart.ForGuest"/> says),
/// then libvirt attaches the device and the &lt;shim:link&gt; joins the metadata. A failure at any step undoes the
/// ones before it, and is one line naming the domain, the NIC and the cause.
/// </summary>
internal static class AttachInterface
{
    public static AttachedNic Run(ShimContext context, IGuestDevices guest, AttachRequest request)
    {
        GuestScope scope = GuestScopes.Resolve(guest, request.Live, request.Config);
        var sides = GuestScopes.Sides(scope).Select(side => (Side: side, Domain: GuestScopes.Read(guest, side, out XElement xml), Xml: xml)).ToList();
        DomainDescription domain = sides[0].Domain;
        MacAddress mac = request.Mac ?? FreshMac(sides.Select(s => s.Xml));
        if (sides.FirstOrDefault(s => HotplugXml.FindInterface(s.Xml, mac) is not null) is { Xml: not null } clash)
            throw new ShimFailure($"{Describe.Domain(domain)}: NIC {mac}: the {SideName(clash.Side)} already has a NIC with this MAC");

        OwnedNic nic = new(mac, "", request.Source, request.Network, request.Mode, Mtu: (uint)(request.Mtu ?? 0), SourceMacs: request.SourceMacs,
            Guard: request.Guard, Ips: request.Ips);
        LinkStart start = LinkStart.ForGuest(context.Settings.StateDir, scope.HasFlag(GuestScope.Live) && guest.VcpusRun);
        (nic, int? ifindex) = CreateLink(context, domain, nic, scope, start);
        var undo = new Stack<(string What, Action Step)>();
        undo.Push(("give back the name and delete the macvtap", () => ForgetLink(context, domain, nic, ifindex)));
        try
        {
            GuestScopes.Step(domain, nic, "cannot hot-plug it", () => guest.Attach(HotplugXml.Interface(nic.Mac, nic.Name), scope));
            undo.Push(("unplug it", () => guest.Detach(HotplugXml.Interface(nic.Mac, nic.Name), scope)));
            foreach (GuestScope side in GuestScopes.Sides(scope))
            {
                string? before = null;
                GuestScopes.Step(domain, nic, $"cannot add its <shim:link> to the {SideName(side)}'s metadata", () =>
                {
                    before = guest.Metadata(side);
                    guest.SetMetadata(HotplugXml.AddLink(before, nic, request.Mtu), side);
                });
                undo.Push(($"restore the {SideName(side)}'s metadata", () => guest.SetMetadata(before, side)));
            }
        }
        catch (ShimFailure)
        {
            Undo(context, domain, nic, undo);
            throw;
        }
        context.Log.Information("Hot-plugged NIC {Mac} ({Name}) into {Domain} ({Scope}){Link}", nic.Mac, nic.Name, domain.Name, scope,
            scope.HasFlag(GuestScope.Live) ? ", link " + start.Describe() : "");
        return new AttachedNic(nic, scope, ifindex);
    }

    /// <summary>
    /// Under the lock: a name held for the domain (for its definition too when the definition gets the NIC), and on the
    /// running guest its macvtap, created and recorded by prepare's own code.
    /// </summary>
    private static (OwnedNic Nic, int? Ifindex) CreateLink(
        ShimContext context, DomainDescription domain, OwnedNic nic, GuestScope scope, LinkStart start)
    {
        using ShimSession session = ShimSession.Open(context);
        Holding holding = scope.HasFlag(GuestScope.Config) ? Holding.Defined : Holding.Reserved;
        long expires = context.Now + context.Settings.ReservationSeconds;
        string name = TakeFreeNames.Run(session, context.Links, context.Settings, context.Now, [nic],
            (n, name) => new NameRecord(name, holding, domain.Uuid, domain.Name, n.Mac,
                LowerDeviceMapping.Local(context.Settings, n.Source, n.Network) ?? "", n.Mode, ExpiresAt: expires),
            $"{Describe.Domain(domain)}: NIC {nic.Mac}")[0];
        nic = nic with { Name = name };
        LowerDevices.Resolve(context.Settings, domain, nic);
        if (!scope.HasFlag(GuestScope.Live))
        {
            session.Commit();
            return (nic, null);
        }
        List<LinkGuard> wholeGuard = GuardLinks.InForce(domain.OwnedNics.Append(nic), session.State, domain.Uuid,
            GuardModes.Parse(context.Settings.Guard));
        PrepareLinks.Run(session, context.Settings, context.Links, context.OpenGuards, context.Taps, context.Marker, context.Log,
            context.Now, domain with { OwnedNics = [nic], LibvirtMacvtaps = [] }, start, wholeGuard);
        return (nic, session.State.Find(name)?.Ifindex);
    }

    private static void Undo(ShimContext context, DomainDescription domain, OwnedNic nic, Stack<(string What, Action Step)> undo)
    {
        while (undo.TryPop(out var step))
        {
            try
            {
                step.Step();
            }
            catch (ShimFailure e)
            {
                context.Log.Error("{Nic}: undoing the hot-plug: could not {What}: {Error}", Describe.Nic(domain, nic), step.What, e.Message);
            }
        }
    }

    /// <summary>The name goes back and the link this call created (carrying the domain's marks, that ifindex) is deleted.</summary>
    internal static void ForgetLink(ShimContext context, DomainDescription domain, OwnedNic nic, int? ifindex)
    {
        using ShimSession session = ShimSession.Open(context);
        DetachInterface.GuardTheOthers(context, session, domain, nic);
        if (ifindex is { } index)
        {
            var created = DeleteDomainLinks.OnNames(context.Links, [nic.Name]).Values.Where(l => l.Index == index);
            LinkDeletion deletion = DeleteDomainLinks.Run(context.Links, context.Taps, context.Marker, domain.Uuid, domain.Name, created);
            if (deletion.Failure is { } failure) throw failure;
        }
        if (session.State.Find(nic.Name) is { } record && record.Domain == domain.Uuid) session.State.Remove(nic.Name);
        session.Commit();
    }

    internal static string SideName(GuestScope side) => side == GuestScope.Live ? "running guest" : "definition";

    /// <summary>A MAC in libvirt's 52:54:00 range that no NIC of the guest has, as libvirt would pick.</summary>
    private static MacAddress FreshMac(IEnumerable<XElement> domains)
    {
        while (true)
        {
            MacAddress mac = DirectNicConversion.RandomMac();
            if (domains.All(d => HotplugXml.FindInterface(d, mac) is null)) return mac;
        }
    }
}
