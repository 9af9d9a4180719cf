using System.Runtime.InteropServices;

/// <summary>Owns a socket descriptor (netlink, AF_UNIX) and closes it once.</summary>
internal sealed class SafeSocketHandle : SafeHandle
{
    public SafeSocketHandle() : base(invalidHandleValue: -1, ownsHandle: true) { }

    internal SafeSocketHandle(int fd) : this() => SetHandle(fd);

    public override bool IsInvalid => handle < 0;

    protected override bool ReleaseHandle() => Interop.Libc.Close((int)handle) == 0;
}
