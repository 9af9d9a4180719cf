using System.Globalization;

namespace LibvirtShim.Reports.Doctor;

/// <summary>A libvirt version, as the soname of the libvirt library carries it (libvirt.so.0.9000.0 is 9.0.0).</summary>
internal readonly record struct LibvirtVersion(int Major, int Minor, int Micro) : IComparable<LibvirtVersion>
{
    /// <summary>libvirt.so.0.MMMmmm.micro: the minor part is major * 1000 + minor.</summary>
    public static LibvirtVersion? FromLibraryName(string fileName)
    {
        const string prefix = "libvirt.so.0.";
        if (!fileName.StartsWith(prefix, StringComparison.Ordinal)) return null;
        string[] parts = fileName[prefix.Length..].Split('.');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int combined)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int micro))
            return null;
        return new LibvirtVersion(combined / 1000, combined % 1000, micro);
    }

    public int CompareTo(LibvirtVersion other) =>
        Major != other.Major ? Major.CompareTo(other.Major) : Minor != other.Minor ? Minor.CompareTo(other.Minor) : Micro.CompareTo(other.Micro);

    public override string ToString() => $"{Major}.{Minor}.{Micro}";
}

/// <summary>An instant known only to lie between two bounds (nanoseconds since the epoch); <see cref="Unknown"/> when not known at all.</summary>
internal readonly record struct TimeWindow(long Earliest, long Latest)
{
    public static readonly TimeWindow Unknown = default;

    public bool IsKnown => Latest > 0;

    /// <summary>True only when every instant of this window comes before every instant of <paramref name="other"/>.</summary>
    public bool CertainlyBefore(TimeWindow other) => IsKnown && other.IsKnown && Latest < other.Earliest;

    public TimeWindow Plus(long earliest, long latest) => new(Earliest + earliest, Latest + latest);

    /// <summary>
    /// When the machine booted, on the wall clock: now minus the time since boot, read between two readings of the wall
    /// clock (the gap, a few microseconds, is the uncertainty).
    /// </summary>
    public static TimeWindow BootFromClocks()
    {
        long before = Interop.Clock.RealtimeNanoseconds();
        long sinceBoot = Interop.Clock.BoottimeNanoseconds();
        long after = Interop.Clock.RealtimeNanoseconds();
        return new TimeWindow(before - sinceBoot, after - sinceBoot);
    }
}

/// <summary>
/// A running libvirtd or virtqemud (the daemons that run the qemu hook). <see cref="SameMountNamespace"/> is true
/// when its mount namespace cannot be read (not root): it is then taken to be this one.
/// </summary>
internal sealed record LibvirtDaemon(int Pid, string Name, string Executable, LibvirtVersion? Version, TimeWindow StartedAt, string Root,
    bool SameMountNamespace)
{
    public override string ToString() => $"{Name} (pid {Pid})";
}

/// <summary>Finds the daemons and their version in /proc, without asking libvirt anything.</summary>
internal static class LibvirtDaemons
{
    public static readonly string[] Names = ["libvirtd", "virtqemud"];

    /// <summary><paramref name="boot"/>: when the machine booted; without it, /proc/stat's btime (whole seconds).</summary>
    public static List<LibvirtDaemon> Find(string proc, TimeWindow? boot = null)
    {
        var found = new List<LibvirtDaemon>();
        string? myNamespace = HostFiles.ReadLink(Path.Combine(proc, "self", "ns", "mnt"));
        TimeWindow bootTime = boot ?? BootTime(proc);
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateDirectories(proc).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return found;
        }
        foreach (string dir in entries)
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            string? comm = HostFiles.ReadText(Path.Combine(dir, "comm"))?.Trim();
            if (comm is null || !Names.Contains(comm)) continue;
            string? ns = HostFiles.ReadLink(Path.Combine(dir, "ns", "mnt"));
            found.Add(new LibvirtDaemon(pid, comm, HostFiles.ReadLink(Path.Combine(dir, "exe")) ?? comm, VersionFromMaps(Path.Combine(dir, "maps")),
                StartTime(dir, bootTime), Path.Combine(dir, "root"), ns is null || myNamespace is null || ns == myNamespace));
        }
        return found.OrderBy(d => d.Pid).ToList();
    }

    /// <summary>The libvirt library the process has mapped.</summary>
    public static LibvirtVersion? VersionFromMaps(string maps)
    {
        string? text = HostFiles.ReadText(maps);
        if (text is null) return null;
        foreach (string line in text.Split('\n'))
        {
            int slash = line.LastIndexOf('/');
            if (slash >= 0 && LibvirtVersion.FromLibraryName(line[(slash + 1)..].Trim()) is { } version) return version;
        }
        return null;
    }

    /// <summary>With no daemon running: the newest libvirt library installed under <paramref name="root"/>.</summary>
    public static LibvirtVersion? InstalledVersion(string root)
    {
        LibvirtVersion? best = null;
        foreach (string dir in new[] { "usr/lib/x86_64-linux-gnu", "usr/lib64", "usr/lib", "lib/x86_64-linux-gnu", "lib64" })
        {
            string path = Path.Combine(root, dir);
            if (!Directory.Exists(path)) continue;
            foreach (string file in Directory.EnumerateFiles(path, "libvirt.so.0.*"))
            {
                if (LibvirtVersion.FromLibraryName(Path.GetFileName(file)) is { } v && (best is null || v.CompareTo(best.Value) > 0)) best = v;
            }
        }
        return best;
    }

    /// <summary>
    /// When the process started: /proc/PID/stat field 22 counts clock ticks (1/100 s) after boot, rounded down, so the
    /// start lies within one tick after it, plus the uncertainty of the boot time.
    /// </summary>
    private static TimeWindow StartTime(string dir, TimeWindow bootTime)
    {
        string? stat = HostFiles.ReadText(Path.Combine(dir, "stat"));
        if (stat is null || !bootTime.IsKnown) return TimeWindow.Unknown;
        string[] fields = stat[(stat.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length <= 19 || !long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out long ticks))
            return TimeWindow.Unknown;
        long tick = 1_000_000_000 / Interop.Process.ClockTicksPerSecond;
        return bootTime.Plus(ticks * tick, (ticks + 1) * tick);
    }

    /// <summary>/proc/stat's btime: whole seconds, rounded down, so the boot lies within the second after it.</summary>
    private static TimeWindow BootTime(string proc)
    {
        foreach (string line in (HostFiles.ReadText(Path.Combine(proc, "stat")) ?? "").Split('\n'))
        {
            if (line.StartsWith("btime ", StringComparison.Ordinal)
                && long.TryParse(line[6..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long t))
                return new TimeWindow(t * 1_000_000_000, (t + 1) * 1_000_000_000);
        }
        return TimeWindow.Unknown;
    }
}
