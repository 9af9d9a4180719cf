using System.Runtime.InteropServices;
using Xunit;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>
/// libvirt hands a macvtap to QEMU by opening /dev/tapIFINDEX. The node's name carries the link's ifindex, which is only
/// unique per network namespace: a macvtap in another namespace (another test's, a benchmark's) with the same ifindex
/// keeps its node, devtmpfs does not replace it, and QEMU then reads and writes that other link. The hook makes the nodes
/// of its own NICs name their devices (issue 22; G7GuestTapNode proves it); libvirt's own direct NICs still take whatever
/// node is there. So before each scenario, and before a booted guest with such NICs starts, the nodes of other
/// namespaces' macvtaps in the range of ifindexes this namespace hands out next are renamed aside
/// ("/dev/e2e-aside-tapN.T", same filesystem), and put back afterwards when their name is free. Every booted guest then
/// checks that QEMU holds its own macvtaps' devices (<see cref="ExpectQemuHolds"/>).
/// </summary>
public static class TapNodes
{
    private const string AsidePrefix = "e2e-aside-";
    private const int Window = 1024;

    /// <summary>Renames foreign nodes out of the next <see cref="Window"/> ifindexes of this namespace; returns how many.</summary>
    public static int MakeRoom()
    {
        int next = NextIfindex();
        var ours = IpLinks.All().Select(l => l.Index).ToHashSet();
        int moved = 0;
        for (int index = next; index < next + Window; index++)
        {
            string node = $"/dev/tap{index}";
            if (ours.Contains(index) || !File.Exists(node)) continue;
            // A suffix: a node set aside earlier for the same name may still be there.
            File.Move(node, $"/dev/{AsidePrefix}tap{index}.{Environment.TickCount64}");
            moved++;
        }
        return moved;
    }

    /// <summary>
    /// Puts back every node set aside whose name is free again and whose device still exists; deletes the others (a
    /// node put back for a device gone meanwhile would be stale: devtmpfs removed nothing, the node was not at its name).
    /// </summary>
    public static int PutBack()
    {
        int restored = 0;
        foreach (string aside in Directory.EnumerateFiles("/dev", AsidePrefix + "tap*"))
        {
            string name = Path.GetFileNameWithoutExtension(aside)[AsidePrefix.Length..];
            string node = "/dev/" + name;
            if (!File.Exists(node) && DeviceExists(aside, name))
            {
                File.Move(aside, node);
                restored++;
            }
            else
            {
                File.Delete(aside);
            }
        }
        return restored;
    }

    /// <summary>Each macvtap named here is what QEMU's /dev/tapN descriptor of <paramref name="qemuPid"/> really opened.</summary>
    public static void ExpectQemuHolds(int qemuPid, IEnumerable<string> macvtaps)
    {
        var held = HeldBy(qemuPid).Keys.ToHashSet();
        foreach (string link in macvtaps)
        {
            int index = IpLinks.Find(link)?.Index ?? throw new InvalidOperationException($"no link {link}");
            string dev = SysfsDevice(link);
            Assert.True(held.Contains(dev),
                $"QEMU (pid {qemuPid}) does not hold {link}'s tap device {dev} (its /dev/tap descriptors: {string.Join(", ", held)}): " +
                $"/dev/tap{index} belongs to another namespace's macvtap");
        }
    }

    /// <summary>The devices of QEMU's /dev/tap descriptors ("MAJOR:MINOR") and how many descriptors it holds of each (one per queue).</summary>
    public static Dictionary<string, int> HeldBy(int qemuPid)
    {
        var held = new Dictionary<string, int>();
        foreach (string fd in Directory.EnumerateFiles($"/proc/{qemuPid}/fd"))
        {
            // "/dev/tapN", or "TREE/dev/tapN" for a QEMU chrooted in a tree (scripts/libvirt-next.sh) seen from here.
            string target = new FileInfo(fd).LinkTarget ?? "";
            if (!target.Contains("/dev/tap", StringComparison.Ordinal)) continue;
            if (DeviceOf(fd) is { } dev) held[dev] = held.GetValueOrDefault(dev) + 1;
        }
        return held;
    }

    /// <summary>The character device of macvtap <paramref name="link"/> of the host's namespace, as sysfs gives it ("MAJOR:MINOR").</summary>
    public static string SysfsDevice(string link)
    {
        int index = IpLinks.Find(link)?.Index ?? throw new InvalidOperationException($"no link {link}");
        return File.ReadAllText($"/sys/class/net/{link}/macvtap/tap{index}/dev").Trim();
    }

    /// <summary>"MAJOR:MINOR" of the device node at <paramref name="path"/> (stat), or null.</summary>
    public static string? NodeDevice(string path) => DeviceOf(path);

    /// <summary>
    /// The ifindex this namespace gives the next link, made visible with a throw-away veth pair (whose two ends take it and
    /// the one after: the kernel hands ifindexes out cyclically, so the next link gets the one after those).
    /// </summary>
    public static int NextIfindex()
    {
        const string probe = "e2e-ifxprobe";
        Cmd.Run("ip", ["link", "add", probe, "type", "veth", "peer", "name", probe + "p"]).MustSucceed("probing the next ifindex");
        try
        {
            return IpLinks.Find(probe)?.Index ?? throw new InvalidOperationException($"{probe} vanished");
        }
        finally
        {
            Cmd.Run("ip", ["link", "del", probe]);
        }
    }

    /// <summary>The node's device exists and is the tap device of that name (of whichever namespace).</summary>
    private static bool DeviceExists(string node, string name) =>
        DeviceOf(node) is { } dev && new DirectoryInfo($"/sys/dev/char/{dev}").LinkTarget is { } target && Path.GetFileName(target) == name;

    /// <summary>"MAJOR:MINOR" (decimal) of the character device a path leads to (stat(2), following links), or null.</summary>
    private static string? DeviceOf(string path)
    {
        var buffer = new byte[256];
        if (stat(path, buffer) != 0) return null;
        ulong rdev = BitConverter.ToUInt64(buffer, StRdevOffset);
        uint major = (uint)(((rdev >> 32) & 0xfffff000) | ((rdev >> 8) & 0xfff));
        uint minor = (uint)(((rdev >> 12) & 0xffffff00) | (rdev & 0xff));
        return $"{major}:{minor}";
    }

    /// <summary>struct stat on x86_64: st_dev, st_ino, st_nlink (8 bytes each), st_mode, st_uid, st_gid, padding (4 each), st_rdev.</summary>
    private const int StRdevOffset = 40;

    [DllImport("libc", SetLastError = true)]
    private static extern int stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buffer);
}
