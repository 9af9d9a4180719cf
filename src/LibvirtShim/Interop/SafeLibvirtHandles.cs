using System.Runtime.InteropServices;

/// <summary>A virConnectPtr, closed once (virConnectClose).</summary>
internal sealed class SafeLibvirtConnectHandle : SafeHandle
{
    public SafeLibvirtConnectHandle() : base(0, ownsHandle: true) { }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => Interop.Libvirt.CloseConnection(handle) >= 0;
}

/// <summary>A virDomainPtr, freed once (virDomainFree); libvirt keeps its connection alive until then.</summary>
internal sealed class SafeLibvirtDomainHandle : SafeHandle
{
    public SafeLibvirtDomainHandle() : base(0, ownsHandle: true) { }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => Interop.Libvirt.FreeDomain(handle) == 0;
}
