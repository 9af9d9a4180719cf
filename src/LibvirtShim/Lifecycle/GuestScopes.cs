using LibvirtShim.Domain;
using LibvirtShim.Libvirt;
using LibvirtShim.Messages;
using LibvirtShim.Net;
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

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// After an unplug was asked for: waits (at most <paramref name="wait"/>) until the running guest's XML no longer
    /// lists the NIC, as the guest acknowledges an unplug in its own time; a failure saying <paramref name="otherwise"/>
    /// when it still does.
    /// </summary>
    public static void WaitUnplugged(IGuestDevices guest, DomainDescription domain, OwnedNic nic, TimeSpan wait, string otherwise)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            if (Step(domain, nic, "cannot read the running guest's XML", () => IsListed(guest, nic.Mac)) is false) return;
            if (clock.Elapsed >= wait)
                throw new ShimFailure($"{Describe.Nic(domain, nic)}: the guest has not let the NIC go after {wait.TotalSeconds:0} s " +
                    $"(libvirt still lists it); {otherwise}");
            Thread.Sleep(PollInterval);
        }
    }

    private static bool IsListed(IGuestDevices guest, MacAddress mac)
    {
        var live = DomainReader.DomainElement(DomainXml.Parse(System.Text.Encoding.UTF8.GetBytes(guest.Xml(GuestScope.Live))));
        return HotplugXml.FindInterface(live, mac) is not null;
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
