using LibvirtShim.Messages;

namespace LibvirtShim.Netlink;

/// <summary>
/// A failure of the netlink socket itself (socket, bind, send, recv, a broken reply), not of one request. It stays inside
/// Netlink: <see cref="LinkTable"/> reports it as a <see cref="ShimFailure"/>.
/// </summary>
internal sealed class NetlinkException : Exception
{
    public NetlinkException(string operation, Errno errno, string message, string? kernelMessage = null, Exception? inner = null)
        : base(message, inner)
    {
        Operation = operation;
        Errno = errno;
        KernelMessage = kernelMessage;
    }

    public string Operation { get; }

    /// <summary><see cref="Errno.None"/> when the failure has no errno (a malformed reply).</summary>
    public Errno Errno { get; }

    public string? KernelMessage { get; }

    public static NetlinkException FromErrno(string operation, Errno errno, string? context = null)
    {
        string where = context is null ? operation : $"{operation} ({context})";
        return new NetlinkException(operation, errno, $"netlink {where} failed: {errno.Describe()}");
    }

    public static NetlinkException FromKernel(string operation, NetlinkError error) =>
        new(operation, error.Errno, $"netlink {operation} failed: {error.Describe()}", error.KernelMessage);

    /// <summary>The same failure, saying which requests were under way.</summary>
    public NetlinkException During(string context) =>
        new(Operation, Errno, $"{Message} (during {context})", KernelMessage, this);

    /// <summary>As the user meets it: the socket's failure, with what to do when it is a matter of privilege.</summary>
    public ShimFailure Reported() => ShimFailure.WithoutDomain(Message,
        Errno is Errno.EPERM or Errno.EACCES ? "changing links needs CAP_NET_ADMIN: run it as root" : null, this);

    public static NetlinkException Malformed(string what) =>
        new("parse", Errno.None, $"netlink reply is malformed: {what}");
}
