using LibvirtShim.Domain;
using LibvirtShim.Libvirt;
using LibvirtShim.Messages;
using LibvirtShim.Session;

namespace LibvirtShim.Lifecycle;

internal static class GuestScopes
{
    /// <summary>
    /// virsh's rule: neither flag means the running guest when it runs, else its definition. A side that is asked for
    /// must exist.
    /// </summary>
    public static GuestScope Resolve(IGuestDevices guest, bool live, bool config)
    {
        GuestScope scope = (live ? GuestScope.Live : 0) | (config ? GuestScope.Config : 0);
        if (scope == 0) scope = guest.IsActive ? GuestScope.Live : GuestScope.Config;
        if (scope.HasFlag(GuestScope.Live) && !guest.IsActive)
            throw new ShimFailure($"domain '{guest.Name}' is not running (--live needs a running guest)");
        if (scope.HasFlag(GuestScope.Config) && !guest.IsPersistent)
            throw new ShimFailure($"domain '{guest.Name}' has no persistent definition (--config needs one)");
        return scope;
    }

    /// <summary>The guest's XML before any step: libvirt's failure names the domain and libvirt's cause.</summary>
    private static string XmlOf(IGuestDevices guest, GuestScope side)
    {
        try
        {
            return guest.Xml(side);
        }
        catch (ShimFailure e) when (!e.NamesDomain)
        {
            throw new ShimFailure($"domain '{guest.Name}': {e.Message}");
        }
    }

    public static IEnumerable<GuestScope> Sides(GuestScope scope) =>
        new[] { GuestScope.Live, GuestScope.Config }.Where(side => scope.HasFlag(side));

    public static DomainDescription Read(IGuestDevices guest, GuestScope side, out System.Xml.Linq.XElement element)
    {
        System.Xml.Linq.XDocument document = DomainXml.Parse(System.Text.Encoding.UTF8.GetBytes(XmlOf(guest, side)));
        element = DomainReader.DomainElement(document);
        return DomainReader.ReadLenient(document);
    }

    /// <summary>One libvirt step of a hot-plug: its failure becomes one line naming the domain, the NIC, the step and libvirt's cause.</summary>
    public static T Step<T>(DomainDescription domain, OwnedNic nic, string what, Func<T> step)
    {
        try
        {
            return step();
        }
        catch (ShimFailure e)
        {
            throw new ShimFailure($"{Describe.Nic(domain, nic)}: {what}: {e.Message}");
        }
    }

    public static void Step(DomainDescription domain, OwnedNic nic, string what, Action step) =>
        Step(domain, nic, what, () => { step(); return 0; });
}
