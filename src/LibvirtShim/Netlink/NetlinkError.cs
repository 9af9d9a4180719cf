namespace LibvirtShim.Netlink;

/// <summary>
/// The kernel's answer to one request that failed: the errno, the extended-ack text when the kernel gave one
/// (NLMSGERR_ATTR_MSG), and <paramref name="Detail"/> for what this shim found itself.
/// </summary>
internal readonly record struct NetlinkError(Errno Errno, string? KernelMessage, string? Detail = null)
{
    /// <summary>"File exists (EEXIST, errno 17; kernel: ...)".</summary>
    public string Describe()
    {
        string text = Errno.Describe();
        if (KernelMessage is not null) text = $"{text[..^1]}; kernel: {KernelMessage})";
        return Detail is null ? text : $"{text}: {Detail}";
    }

    public override string ToString() => Describe();
}
