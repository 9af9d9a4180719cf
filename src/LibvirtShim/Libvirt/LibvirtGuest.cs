using LibvirtShim.Messages;

namespace LibvirtShim.Libvirt;

/// <summary>
/// A guest reached through libvirt's C API (libvirt.so.0, loaded on first use), as virsh reaches it: <c>-c URI</c> or
/// libvirt's default. Every failure of libvirt's is a <see cref="ShimFailure"/> here, never Interop's exception: opening
/// the guest and the questions (<see cref="IsActive"/>, <see cref="IsPersistent"/>) name the domain; the other calls,
/// which are steps of a hot-plug, name the call and libvirt's message, and the step says which domain and NIC.
/// </summary>
internal sealed class LibvirtGuest : IGuestDevices, IDisposable
{
    private readonly SafeLibvirtConnectHandle _connection;
    private readonly SafeLibvirtDomainHandle _domain;

    private LibvirtGuest(string name, SafeLibvirtConnectHandle connection, SafeLibvirtDomainHandle domain)
    {
        Name = name;
        _connection = connection;
        _domain = domain;
    }

    public static LibvirtGuest Open(string? uri, string name)
    {
        SafeLibvirtConnectHandle connection;
        try
        {
            connection = Interop.Libvirt.Open(uri);
        }
        catch (LibvirtCallException e)
        {
            throw new ShimFailure($"domain '{name}': cannot connect to libvirt ({uri ?? "default URI"}): {e.Message}");
        }
        catch (DllNotFoundException)
        {
            throw new ShimFailure($"domain '{name}': cannot load libvirt.so.0 (install libvirt0)");
        }
        try
        {
            return new LibvirtGuest(name, connection, Interop.Libvirt.LookupDomain(connection, name));
        }
        catch (LibvirtCallException e)
        {
            connection.Dispose();
            throw new ShimFailure($"domain '{name}': {e.Message}");
        }
    }

    public string Name { get; }
    public bool IsActive => Ask(() => Interop.Libvirt.IsActive(_domain));
    public bool IsPersistent => Ask(() => Interop.Libvirt.IsPersistent(_domain));
    public bool VcpusRun => Ask(() => Domain.GuestStates.LinksUp((Domain.GuestState)Interop.Libvirt.State(_domain).State) == true);

    public string Xml(GuestScope side) => Step(() => Interop.Libvirt.XmlDescription(_domain, inactive: side == GuestScope.Config));

    public void Attach(string deviceXml, GuestScope scope) => Step(() => Interop.Libvirt.AttachDevice(_domain, deviceXml, Affect(scope)));

    public void Detach(string deviceXml, GuestScope scope) => Step(() => Interop.Libvirt.DetachDevice(_domain, deviceXml, Affect(scope)));

    public string? Metadata(GuestScope side) => Step(() => Interop.Libvirt.GetMetadata(_domain, Domain.ShimMetadata.NamespaceUri, Affect(side)));

    public void SetMetadata(string? element, GuestScope side) =>
        Step(() => Interop.Libvirt.SetMetadata(_domain, element, Domain.ShimMetadata.Prefix, Domain.ShimMetadata.NamespaceUri, Affect(side)));

    /// <summary>A question asked outside any hot-plug step: libvirt's failure names the domain.</summary>
    private bool Ask(Func<bool> question)
    {
        try
        {
            return question();
        }
        catch (LibvirtCallException e)
        {
            throw new ShimFailure($"domain '{Name}': {e.Message}");
        }
    }

    /// <summary>One call of a hot-plug step: libvirt's failure as "CALL: libvirt's message", which the step puts after the domain and NIC.</summary>
    private static T Step<T>(Func<T> call)
    {
        try
        {
            return call();
        }
        catch (LibvirtCallException e)
        {
            throw ShimFailure.WithoutDomain(e.Message);
        }
    }

    private static void Step(Action call) => Step(() =>
    {
        call();
        return 0;
    });

    private static Interop.Libvirt.Affect Affect(GuestScope scope) => (Interop.Libvirt.Affect)(uint)scope;

    public void Dispose()
    {
        _domain.Dispose();
        _connection.Dispose();
    }
}
