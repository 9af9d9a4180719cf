using System.Globalization;
using System.Text;
using LibvirtShim.Messages;

namespace LibvirtShim.Devices;

/// <summary>What <see cref="TapNodes.Ensure"/> found at the node and did.</summary>
internal enum TapNodeChange
{
    /// <summary>It named the link's device already (devtmpfs or udev made it): nothing done.</summary>
    AsItWas,
    /// <summary>There was none (no devtmpfs, no udev, or a node of the same name blocked devtmpfs and has gone): created.</summary>
    Created,
    /// <summary>It named another device (another namespace's macvtap of the same ifindex) or was no device node: replaced.</summary>
    Replaced,
}

/// <summary>
/// The node libvirt opens for a macvtap, <c>/dev/tapIFINDEX</c>. Node names are global but ifindexes are per network
/// namespace, and devtmpfs makes a node for a macvtap of any namespace, never replaces a file already at that name and
/// removes only the nodes it made: so the node may name another namespace's macvtap (the guest then gets that network), or
/// be missing (a host or container without devtmpfs or udev). The hook makes it name its link's device, the major:minor
/// sysfs gives under the link's ifindex, and takes back a node it made when the link goes. <see cref="DeviceRoot"/> and
/// <see cref="SysfsRoot"/> are "/dev" and "/sys" on a host, other directories in tests.
/// </summary>
internal sealed record TapNodes(string DeviceRoot, string SysfsRoot)
{
    public static TapNodes System { get; } = new("/dev", "/sys");

    /// <summary>The node's path for the link of <paramref name="ifindex"/>, as libvirt opens it.</summary>
    public string NodeOf(int ifindex) => Path.Join(DeviceRoot, "tap" + ifindex.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// The character device of macvtap <paramref name="name"/>, read from sysfs under the link's own ifindex
    /// (<c>class/net/NAME/macvtap/tapIFINDEX/dev</c>): that path exists only while sysfs shows this very link, so a
    /// sysfs of another namespace, or a link of that name made since, cannot answer for it. A failure when sysfs cannot tell.
    /// </summary>
    public DeviceNumber DeviceOf(string name, int ifindex)
    {
        string path = Path.Join(SysfsRoot, "class", "net", name, "macvtap", "tap" + ifindex.ToString(CultureInfo.InvariantCulture), "dev");
        Span<byte> text = stackalloc byte[32];
        try
        {
            text = text[..Interop.Files.ReadSmall(path, text)].TrimEnd("\n"u8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ShimFailure.WithoutDomain($"cannot tell which device {NodeOf(ifindex)} must name: {path}: {e.Message}",
                "sysfs must be mounted for the network namespace libvirt runs in (/sys)");
        }
        int colon = text.IndexOf((byte)':');
        if (colon > 0 && uint.TryParse(text[..colon], NumberStyles.None, CultureInfo.InvariantCulture, out uint major)
            && uint.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out uint minor))
            return new DeviceNumber(major, minor);
        throw ShimFailure.WithoutDomain(
            $"cannot tell which device {NodeOf(ifindex)} must name: {path} holds '{Encoding.UTF8.GetString(text)}', not MAJOR:MINOR");
    }

    /// <summary>
    /// Makes <c>tapIFINDEX</c> name macvtap <paramref name="name"/>'s device: left as it is when it does, created when
    /// missing, replaced in one rename when it is anything else but a directory; root's, mode 0600, as devtmpfs makes it
    /// (libvirt labels it itself). A failure, naming the node and the cause, where that cannot be done.
    /// </summary>
    public (TapNodeChange Change, DeviceNumber Device) Ensure(string name, int ifindex)
    {
        DeviceNumber device = DeviceOf(name, ifindex);
        string node = NodeOf(ifindex);
        try
        {
            FileFacts? found = Interop.Files.Lstat(node);
            if (found is { IsCharacterDevice: true } existing && existing.RawDevice == device) return (TapNodeChange.AsItWas, device);
            if (found is { IsDirectory: true }) throw new IOException($"{node} is a directory");
            string temporary = Path.Join(DeviceRoot, $".tap{ifindex.ToString(CultureInfo.InvariantCulture)}.libvirt-shim");
            Interop.Files.MakeCharacterDevice(temporary, device);
            Interop.Files.Rename(temporary, node);
            return (found is null ? TapNodeChange.Created : TapNodeChange.Replaced, device);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ShimFailure.WithoutDomain($"cannot make {node}, the node libvirt opens, name its device {device}: {e.Message}",
                $"libvirt-shim needs to write {DeviceRoot} as root (CAP_MKNOD)");
        }
    }

    /// <summary>
    /// Whether process <paramref name="pid"/> (a guest's QEMU) holds the node of the link of <paramref name="ifindex"/>
    /// open: one of its descriptors is that very file (device and inode; a device number alone may be a deleted link's,
    /// reused). False when there is no node, or the process or its descriptors cannot be read.
    /// </summary>
    public bool IsOpenIn(int pid, int ifindex)
    {
        if (Interop.Files.Probe(NodeOf(ifindex), followSymlinks: false) is not { IsCharacterDevice: true } node) return false;
        try
        {
            foreach (string fd in Directory.EnumerateFileSystemEntries($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/fd"))
            {
                if (Interop.Files.Probe(fd, followSymlinks: true) is { } open && open.Device == node.Device && open.Inode == node.Inode) return true;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return false;
    }

    /// <summary>
    /// Before link <paramref name="name"/> is deleted: the device its node names, when there is a node and it names the
    /// link's device (then it may be one the hook made, which devtmpfs leaves behind); null otherwise, or when sysfs cannot tell.
    /// </summary>
    public DeviceNumber? NodeToTakeBack(string name, int ifindex)
    {
        try
        {
            if (Interop.Files.Lstat(NodeOf(ifindex)) is not { IsCharacterDevice: true } found) return null;
            DeviceNumber device = DeviceOf(name, ifindex);
            return found.RawDevice == device ? device : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ShimFailure)
        {
            return null;
        }
    }

    /// <summary>
    /// After the link went: its node, when still there (devtmpfs removes only the nodes it made) and still naming the
    /// link's <paramref name="device"/>, is removed. Returns whether it was.
    /// </summary>
    public bool TakeBack(int ifindex, DeviceNumber device)
    {
        string node = NodeOf(ifindex);
        try
        {
            if (Interop.Files.Lstat(node) is not { IsCharacterDevice: true } found || found.RawDevice != device) return false;
            File.Delete(node);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
