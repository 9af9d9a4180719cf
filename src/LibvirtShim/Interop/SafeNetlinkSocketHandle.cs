using System.Runtime.InteropServices;

/// <summary>Owns a netlink socket descriptor and closes it once.</summary>
internal sealed class SafeNetlinkSocketHandle : SafeHandle
{
    public SafeNetlinkSocketHandle() : base(invalidHandleValue: -1, ownsHandle: true) { }

    internal SafeNetlinkSocketHandle(int fd) : this() => SetHandle(fd);

    public override bool IsInvalid => handle < 0;

    protected override bool ReleaseHandle() => Interop.Libc.Close((int)handle) == 0;
}
