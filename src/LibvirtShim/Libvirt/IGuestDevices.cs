namespace LibvirtShim.Libvirt;

/// <summary>Which side of a guest a change applies to, as virsh's --live and --config say.</summary>
[Flags]
internal enum GuestScope { Live = 1, Config = 2 }

/// <summary>
/// A guest as libvirt manages it, for hot-plug: its XML, its devices and the hook's metadata element. The admin
/// commands reach it through libvirt's C API; the hook never does (libvirt holds the domain's job while a hook runs).
/// </summary>
internal interface IGuestDevices
{
    string Name { get; }
    bool IsActive { get; }
    bool IsPersistent { get; }

    /// <summary>Whether the running guest's vCPUs run now (libvirt's state: <see cref="Domain.GuestStates.LinksUp"/>).</summary>
    bool VcpusRun { get; }

    /// <summary>The running guest's XML (<see cref="GuestScope.Live"/>) or the definition's.</summary>
    string Xml(GuestScope side);

    void Attach(string deviceXml, GuestScope scope);
    void Detach(string deviceXml, GuestScope scope);

    /// <summary>The hook's metadata element on one side, or null when there is none.</summary>
    string? Metadata(GuestScope side);

    /// <summary>Replaces the hook's metadata element on one side; null removes it.</summary>
    void SetMetadata(string? element, GuestScope side);
}
