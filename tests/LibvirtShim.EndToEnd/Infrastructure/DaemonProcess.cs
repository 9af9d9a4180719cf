using System.Globalization;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>
/// Which program serves a libvirt URI (libvirtd, virtqemud, virtproxyd, ...), found from the kernel rather than assumed:
/// the listening socket the URI leads to (/proc/net/unix or /proc/net/tcp) and the process that holds it.
/// </summary>
public static class DaemonProcess
{
    /// <summary>"libvirtd (pid 123)", or null when no process of this mount namespace listens where <paramref name="uri"/> leads.</summary>
    public static string? Serving(string uri)
    {
        var parsed = new Uri(uri);
        HashSet<string> inodes = parsed.Scheme == "qemu+tcp" ? TcpListeners(parsed.Port == -1 ? 16509 : parsed.Port) : UnixListeners();
        if (inodes.Count == 0) return null;
        string ownMountNamespace = Link("/proc/self/ns/mnt") ?? "";
        var holders = new List<(int Pid, string Comm, bool OwnNamespace)>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            if (!HoldsAny(dir, inodes)) continue;
            string comm = Read(Path.Combine(dir, "comm"))?.Trim() ?? "?";
            holders.Add((pid, comm, Link(Path.Combine(dir, "ns", "mnt")) == ownMountNamespace));
        }
        // A unix socket path is only the daemon's in its own mount namespace: the peer daemons bind the same path in theirs.
        var chosen = parsed.Scheme == "qemu+tcp" ? holders : holders.Where(h => h.OwnNamespace).ToList();
        return chosen.Count == 0 ? null : string.Join(", ", chosen.Select(h => $"{h.Comm} (pid {h.Pid})"));
    }

    /// <summary>Inodes of listening unix sockets whose path is a system daemon's (libvirt-sock, virtqemud-sock, ...).</summary>
    private static HashSet<string> UnixListeners()
    {
        var inodes = new HashSet<string>();
        foreach (string line in File.ReadLines("/proc/net/unix").Skip(1))
        {
            // Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 is __SO_ACCEPTCON (listening).
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 8 || f[3] != "00010000") continue;
            string path = f[7];
            if (path.Contains("/libvirt/", StringComparison.Ordinal) && (path.EndsWith("/libvirt-sock", StringComparison.Ordinal) ||
                                                                          path.EndsWith("/virtqemud-sock", StringComparison.Ordinal)))
                inodes.Add(f[6]);
        }
        return inodes;
    }

    /// <summary>Inodes of TCP sockets listening on <paramref name="port"/> (IPv4 and IPv6).</summary>
    private static HashSet<string> TcpListeners(int port)
    {
        var inodes = new HashSet<string>();
        foreach (string table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table)) continue;
            foreach (string line in File.ReadLines(table).Skip(1))
            {
                // sl local_address rem_address st ... inode (field 9); st 0A is LISTEN.
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 10 || f[3] != "0A") continue;
                string local = f[1];
                if (int.Parse(local[(local.LastIndexOf(':') + 1)..], NumberStyles.HexNumber) == port) inodes.Add(f[9]);
            }
        }
        return inodes;
    }

    private static bool HoldsAny(string processDir, HashSet<string> inodes)
    {
        try
        {
            foreach (string fd in Directory.EnumerateFileSystemEntries(Path.Combine(processDir, "fd")))
            {
                string? target = Link(fd);
                if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal) && inodes.Contains(target[8..^1])) return true;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The process ended meanwhile.
        }
        return false;
    }

    private static string? Link(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
