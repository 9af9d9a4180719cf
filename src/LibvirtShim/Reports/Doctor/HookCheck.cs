using System.Globalization;

namespace LibvirtShim.Reports.Doctor;

/// <summary>
/// The hook where the running daemon reads it (through /proc/PID/root, as the daemon sees things): installed once,
/// runnable, new enough a libvirt for qemu.d/, this build, and noticed by the daemon (which looks for hooks only when it
/// starts and on SIGHUP).
/// </summary>
internal static class HookCheck
{
    /// <summary>libvirt runs the scripts in hooks/qemu.d/ since 6.5.</summary>
    public static readonly LibvirtVersion MinimumForQemuD = new(6, 5, 0);

    public const string HooksDirectory = "/etc/libvirt/hooks";
    public const string ReloadRecord = "/run/libvirt-shim/sighup";

    public static void Run(DoctorHost host, LibvirtDaemon? daemon, LibvirtVersion? version, List<DoctorCheck> checks)
    {
        const string area = "hook";
        string root = daemon?.Root ?? host.Root;
        string who = daemon is null ? "" : $" (as {daemon} sees it)";
        HookInspection hooks = HookInspection.Inspect(root, HooksDirectory);
        var shims = hooks.Shims.ToList();
        if (shims.Count == 0)
        {
            string foreign = hooks.Main is not null ? $"{hooks.Main.Path} is another program's hook, and " : "";
            checks.Add(DoctorCheck.Fail(area, $"{foreign}no libvirt-shim hook in {HooksDirectory}{who}: libvirt never calls libvirt-shim",
                "install it: hooks/install.sh from the source tree, or the package (apt-get install ./libvirt-shim_VERSION_amd64.deb)"));
            return;
        }
        if (shims.Count > 1)
        {
            checks.Add(DoctorCheck.Fail(area,
                $"libvirt-shim is installed {shims.Count} times ({string.Join(", ", shims.Select(s => s.Path))}){who}: libvirt runs it once for each",
                $"remove all but one (keep {shims[0].Path})"));
        }
        foreach (HookFile hook in shims)
        {
            string target = hook.Target is null ? "" : $" -> {hook.Target}";
            string kind = hook.Kind == HookKind.Wrapper ? "a script that runs 'libvirt-shim hook'" : "libvirt-shim";
            if (!hook.IsRunnable)
            {
                checks.Add(DoctorCheck.Fail(area, $"{hook.Path}{target} is {kind} but libvirt cannot run it (not an executable regular file){who}",
                    $"chmod 755 {hook.Target ?? hook.Path}"));
                continue;
            }
            bool inQemuD = hook.Path.Contains("/qemu.d/", StringComparison.Ordinal);
            checks.Add(DoctorCheck.Ok(area, $"{hook.Path}{target} is {kind}, executable{who}"));
            if (inQemuD && version is { } v && v.CompareTo(MinimumForQemuD) < 0)
                checks.Add(DoctorCheck.Fail(area, $"libvirt {v} does not run hooks in qemu.d/ ({MinimumForQemuD} does)",
                    $"upgrade libvirt, or make {HooksDirectory}/qemu run it: " +
                        "have that script call 'libvirt-shim hook \"$@\"' with the domain XML on stdin"));
            if (inQemuD && hooks.Main is { RunsShim: false })
                checks.Add(DoctorCheck.Ok(area,
                    $"{hooks.Main.Path} is another hook; libvirt runs it first, " +
                    "then qemu.d/ in name order (on migrate/restore its output is libvirt-shim's input)"));
            if (daemon is not null) checks.Add(Noticed(host, daemon, hook));
        }
        if (shims.FirstOrDefault(h => h.Kind == HookKind.Shim && h.IsRunnable) is { } installed && Environment.ProcessPath is { } self
            && Differs(Below(root, installed.Target ?? installed.Path), self))
            checks.Add(DoctorCheck.Warn(area,
                $"the hook runs {installed.Target ?? installed.Path}, a different build from this libvirt-shim ({self})",
                "install this build (hooks/install.sh or the package), or run the doctor of the installed one"));
    }

    /// <summary>
    /// A file's ctime comes from the kernel's coarse clock, which lags the real time by at most one timer tick (10 ms
    /// at the slowest, HZ=100): the change happened within that much after the ctime.
    /// </summary>
    private const long CoarseClockLagNanoseconds = 10_000_000;

    /// <summary>
    /// The daemon reads whether hooks exist when it starts and on SIGHUP; a hook that appeared later is not called.
    /// Only a start certainly before the hook appeared (both known only within bounds) is reported.
    /// </summary>
    private static DoctorCheck Noticed(DoctorHost host, LibvirtDaemon daemon, HookFile hook)
    {
        const string area = "hook";
        long ctime = hook.Entry.ChangedAtNanoseconds;
        var appeared = new TimeWindow(ctime, ctime + CoarseClockLagNanoseconds);
        TimeWindow started = daemon.StartedAt;
        if (!started.IsKnown || appeared.CertainlyBefore(started))
            return DoctorCheck.Ok(area, $"{daemon} started after the hook was installed, so it calls it");
        if (SighupAfter(host, daemon, appeared))
            return DoctorCheck.Ok(area, $"{daemon} got SIGHUP from the installer after the hook was installed, so it calls it");
        if (!started.CertainlyBefore(appeared))
        {
            long apart = Math.Max(Math.Abs(started.Latest - appeared.Earliest), Math.Abs(appeared.Latest - started.Earliest));
            return DoctorCheck.Ok(area, $"{daemon} started within {Milliseconds(apart)} of the hook's appearance ({At(ctime)}), too close to tell "
                + $"which came first; it looks for hooks after it starts, so it most likely calls it (if not: kill -HUP {daemon.Pid})");
        }
        return DoctorCheck.Warn(area,
            $"{daemon} started by {At(started.Latest)}, before the hook appeared (at {At(ctime)}); "
            + "libvirt calls a new hook only after a restart or SIGHUP",
            $"kill -HUP {daemon.Pid} (running guests are not affected)");
    }

    /// <summary>The installers note "PID SECONDS[.NANOSECONDS]" after each SIGHUP (whole seconds from older ones: within the next second).</summary>
    private static bool SighupAfter(DoctorHost host, LibvirtDaemon daemon, TimeWindow appeared)
    {
        string pid = daemon.Pid.ToString(CultureInfo.InvariantCulture);
        foreach (string line in (HostFiles.ReadText(host.Under(ReloadRecord)) ?? "").Split('\n'))
        {
            string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length >= 2 && words[0] == pid && SignalledAt(words[1]) is { } at && !at.CertainlyBefore(appeared)) return true;
        }
        return false;
    }

    internal static TimeWindow? SignalledAt(string text)
    {
        string[] parts = text.Split('.');
        if (parts.Length > 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long seconds)) return null;
        if (parts.Length == 1) return new TimeWindow(seconds * 1_000_000_000, (seconds + 1) * 1_000_000_000);
        string digits = parts[1].Length > 9 ? parts[1][..9] : parts[1].PadRight(9, '0');
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long nanoseconds)) return null;
        long at = seconds * 1_000_000_000 + nanoseconds;
        return new TimeWindow(at, at);
    }

    private static string Milliseconds(long nanoseconds) => string.Create(CultureInfo.InvariantCulture, $"{nanoseconds / 1_000_000.0:0.#} ms");

    private static bool Differs(string a, string b)
    {
        try
        {
            if (Path.GetFullPath(a) == Path.GetFullPath(b)) return false;
            var fa = new FileInfo(a);
            var fb = new FileInfo(b);
            if (!fa.Exists || !fb.Exists) return false;
            return fa.Length != fb.Length || !File.ReadAllBytes(a).AsSpan().SequenceEqual(File.ReadAllBytes(b));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string Below(string root, string path) => root == "/" ? path : root.TrimEnd('/') + path;

    private static string At(long epochNanoseconds)
    {
        DateTimeOffset at = DateTimeOffset.UnixEpoch.AddTicks(epochNanoseconds / 100).ToLocalTime();
        return at.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);
    }
}
