using System.Globalization;
using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Naming;
using LibvirtShim.Net;
using LibvirtShim.Netlink;
using Serilog.Core;
using LibvirtShim.Reports;
using LibvirtShim.Session;

namespace LibvirtShim.Cli.Doctor;

/// <summary>
/// Where the doctor looks: /proc and / normally; a fake tree in tests. <see cref="SettingsFile"/> is only named in
/// messages. <see cref="Boot"/>: when the machine booted, from the clocks (null: /proc/stat's btime, to the second).
/// </summary>
internal sealed record DoctorHost(
    string Proc, string Root, Func<LinkTable> OpenLinks, uint EffectiveUser, Func<ShimSettings> LoadSettings, string SettingsFile,
    TimeWindow? Boot = null)
{
    public static DoctorHost ForSystem(IReadOnlyList<string> settingOverrides) =>
        new("/proc", "/", LinkTable.Open, Interop.Files.EffectiveUserId(), () => SettingsLoader.Load(settingOverrides),
            SettingsLoader.ChosenFile, TimeWindow.BootFromClocks());

    public string Under(string path) => Root == "/" ? path : Root.TrimEnd('/') + path;
}

/// <summary>
/// The checklist of <c>libvirt-shim doctor</c>. Reads, never writes: it does not create the state directory, take
/// the lock for long, touch a link or call libvirt (the daemon's version comes from the library it has mapped).
/// </summary>
internal static class DoctorChecks
{
    /// <summary>libvirt uses a macvtap someone else created (ethernet, managed='no') since 5.7; 5.8 is what this project tests against as
    /// the minimum.</summary>
    public static readonly LibvirtVersion MinimumLibvirt = new(5, 8, 0);

    /// <summary>libvirt runs the scripts in hooks/qemu.d/ since 6.5.</summary>
    public static readonly LibvirtVersion MinimumForQemuD = new(6, 5, 0);

    public const string HooksDirectory = "/etc/libvirt/hooks";
    public const string ReloadRecord = "/run/libvirt-shim/sighup";

    public static List<DoctorCheck> Run(DoctorHost host)
    {
        var checks = new List<DoctorCheck>();
        if (host.EffectiveUser != 0)
            checks.Add(DoctorCheck.Warn("privileges",
                "not running as root: the state, the lock and what libvirtd sees need root, so some checks are incomplete",
                "run it as root: sudo libvirt-shim doctor"));
        checks.Add(Kernel(host));
        var daemons = LibvirtDaemons.Find(host.Proc, host.Boot);
        LibvirtDaemon? daemon = daemons.FirstOrDefault(d => d.SameMountNamespace);
        LibvirtVersion? version = Libvirt(host, daemons, daemon, checks);
        Hook(host, daemon, version, checks);

        ShimSettings? settings = Settings(host, checks);
        if (settings is null)
        {
            checks.Add(DoctorCheck.Warn("lower devices, state", "not checked: the settings are not valid", "fix the settings first"));
            return checks;
        }
        IReadOnlyList<Link>? links = Links(host, settings, checks);
        Definitions(settings, links, checks);
        if (links is not null) State(host, settings, links, checks);
        Listener(settings, checks);
        Log(settings, checks);
        return checks;
    }

    private static DoctorCheck Kernel(DoctorHost host)
    {
        const string area = "kernel macvtap";
        string release = LibvirtDaemons.ReadText(Path.Combine(host.Proc, "sys", "kernel", "osrelease"))?.Trim() ?? "";
        string devices = LibvirtDaemons.ReadText(Path.Combine(host.Proc, "devices")) ?? "";
        if (devices.Split('\n').Any(l => l.Trim().EndsWith(" macvtap", StringComparison.Ordinal)))
            return DoctorCheck.Ok(area, $"macvtap is built in or loaded (kernel {release})");
        if (Directory.Exists(host.Under("/sys/module/macvtap")))
            return DoctorCheck.Ok(area, $"the macvtap module is loaded (kernel {release})");
        foreach (string list in new[] { "modules.builtin", "modules.dep" })
        {
            string? text = LibvirtDaemons.ReadText(host.Under($"/lib/modules/{release}/{list}"));
            if (text is not null && text.Contains("/macvtap.ko", StringComparison.Ordinal))
                return DoctorCheck.Ok(area, list == "modules.builtin"
                    ? $"macvtap is built into kernel {release}"
                    : $"macvtap is a module of kernel {release}; the kernel loads it when the first macvtap is created");
        }
        string? config = LibvirtDaemons.ReadText(host.Under($"/boot/config-{release}"));
        if (config is not null && (config.Contains("CONFIG_MACVTAP=y", StringComparison.Ordinal)
            || config.Contains("CONFIG_MACVTAP=m", StringComparison.Ordinal)))
            return DoctorCheck.Ok(area, $"kernel {release} is built with macvtap (/boot/config-{release})");
        return DoctorCheck.Fail(area, $"no sign of macvtap support in kernel {release} (not in /proc/devices, no macvtap module, no CONFIG_MACVTAP)",
            "load it with 'modprobe macvtap', or boot a kernel built with CONFIG_MACVTAP=m or y");
    }

    private static LibvirtVersion? Libvirt(DoctorHost host, List<LibvirtDaemon> daemons, LibvirtDaemon? daemon, List<DoctorCheck> checks)
    {
        const string area = "libvirt";
        foreach (LibvirtDaemon other in daemons.Where(d => !d.SameMountNamespace))
            checks.Add(DoctorCheck.Ok(area,
                $"{other} runs in another mount namespace (a separate libvirt with its own /etc/libvirt): not checked here"));
        LibvirtVersion? version;
        string source;
        if (daemon is null)
        {
            checks.Add(DoctorCheck.Warn(area, "neither libvirtd nor virtqemud is running (in this mount namespace)",
                "start libvirtd (or virtqemud); it looks for hooks when it starts"));
            version = LibvirtDaemons.InstalledVersion(host.Root);
            source = "the installed libvirt library";
        }
        else
        {
            version = daemon.Version;
            source = $"{daemon} {daemon.Executable}";
        }
        if (version is not { } v)
        {
            checks.Add(daemon is null
                ? DoctorCheck.Fail(area, "libvirt does not seem to be installed (no libvirt.so.0.* library found)",
                    "install libvirt: apt-get install libvirt-daemon-system")
                : DoctorCheck.Warn(area, $"{source}: version unknown (no libvirt library in its memory map)",
                    $"check it with '{daemon.Name} --version': libvirt-shim needs {MinimumLibvirt} or later"));
            return null;
        }
        checks.Add(v.CompareTo(MinimumLibvirt) >= 0
            ? DoctorCheck.Ok(area, $"libvirt {v} ({source}); managed='no' macvtaps need {MinimumLibvirt}")
            : DoctorCheck.Fail(area, $"libvirt {v} ({source}) is too old: " +
                $"it does not use a macvtap someone else created (<target managed='no'/>, {MinimumLibvirt})",
                $"upgrade libvirt to {MinimumLibvirt} or later"));
        return v;
    }

    private static void Hook(DoctorHost host, LibvirtDaemon? daemon, LibvirtVersion? version, List<DoctorCheck> checks)
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
        foreach (string line in (LibvirtDaemons.ReadText(host.Under(ReloadRecord)) ?? "").Split('\n'))
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

    private static ShimSettings? Settings(DoctorHost host, List<DoctorCheck> checks)
    {
        const string area = "settings";
        string file = host.SettingsFile;
        try
        {
            ShimSettings settings = host.LoadSettings();
            checks.Add(DoctorCheck.Ok(area, File.Exists(file) ? $"{file} is valid" : $"no {file}: the defaults apply"));
            return settings;
        }
        catch (ShimFailure e)
        {
            checks.Add(DoctorCheck.Fail(area, e.Message, $"fix it in {file} (every hook call reads it; with invalid settings each call fails)"));
            return null;
        }
    }

    /// <summary>The kernel's links; checks on the way that none of the hook's links holds a host address.</summary>
    private static IReadOnlyList<Link>? Links(DoctorHost host, ShimSettings settings, List<DoctorCheck> checks)
    {
        try
        {
            using LinkTable table = host.OpenLinks();
            IReadOnlyList<Link> links = table.Dump();
            checks.Add(Silence(LinkMarker.For(settings), links, table.Addresses()));
            return links;
        }
        catch (ShimFailure e)
        {
            checks.Add(DoctorCheck.Fail("links", $"cannot list the kernel's links: {e.Message}", "run it as root"));
            return null;
        }
    }

    private static DoctorCheck Silence(LinkMarker marker, IReadOnlyList<Link> links, IReadOnlyList<HostAddress> addresses)
    {
        const string area = "silent links";
        List<SpeakingLink> speaking = SpeakingLinks.Find(marker, links, addresses);
        if (speaking.Count == 0)
            return DoctorCheck.Ok(area, "no link libvirt-shim made holds a host address: the host sends nothing with a guest's MAC");
        return DoctorCheck.Fail(area, $"{speaking.Count} link(s) libvirt-shim made hold a host address, so the host may send with the guest's MAC: "
            + string.Join("; ", speaking.Take(3).Select(l => $"{l.Link.Name} ({l.AddressList})")) + (speaking.Count > 3 ? "; ..." : ""),
            speaking[0].Advice());
    }

    /// <summary>The lower devices the settings and the definitions name, and the definitions' NICs handed to the hook.</summary>
    private static void Definitions(ShimSettings settings, IReadOnlyList<Link>? links, List<DoctorCheck> checks)
    {
        const string area = "lower devices";
        var scheme = new NameScheme(settings.NamePrefix, settings.Capacity);
        var wanted = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        void Want(string device, string by)
        {
            if (!wanted.TryGetValue(device, out SortedSet<string>? set)) wanted[device] = set = new SortedSet<string>(StringComparer.Ordinal);
            set.Add(by);
        }
        foreach (string device in settings.AllowedLowerDevices) Want(device, "AllowedLowerDevices");
        foreach (var (from, to) in settings.Uplinks) Want(to, $"Uplinks[{from}]");
        foreach (var (network, device) in settings.Networks) Want(device, $"Networks[{network}]");

        int definitions = 0, owned = 0;
        foreach (string path in EnumerateXml(settings.LibvirtConfigDir))
        {
            DomainDescription domain;
            try
            {
                domain = DomainReader.Read(DomainXml.Parse(DomainXml.ReadFile(path)));
            }
            catch (ShimFailure e)
            {
                checks.Add(DoctorCheck.Warn("definitions", $"{path}: {e.Message}",
                    "the hook refuses to start this domain: fix its definition ('virsh edit'); 'libvirt-shim explain' shows the details"));
                continue;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            definitions++;
            foreach (OwnedNic nic in domain.OwnedNics)
            {
                owned++;
                if (LowerDevices.TryResolve(settings, domain, nic, out string? lower, out string? problem))
                    Want(lower, $"domain {domain.Name}");
                else
                    checks.Add(DoctorCheck.Fail("definitions", problem, nic.Network is not null
                        ? $"add '{nic.Network}' to the Networks setting" : "add the device to AllowedLowerDevices, or map it with Uplinks"));
                if (!scheme.IsManaged(nic.Name))
                    checks.Add(DoctorCheck.Warn("definitions",
                        $"{Describe.Nic(domain, nic)}: target dev is not a libvirt-shim name ({scheme.Prefix}N, N below {scheme.Capacity})",
                        "the hook refuses to start it: 'libvirt-shim adopt' or a free name from 'libvirt-shim status'"));
            }
        }
        checks.Add(DoctorCheck.Ok("definitions",
            $"{definitions} domain definitions in {settings.LibvirtConfigDir}, {owned} NICs handed to libvirt-shim"));
        if (links is null) return;
        var byName = links.ToDictionary(l => l.Name, StringComparer.Ordinal);
        if (wanted.Count == 0)
        {
            checks.Add(DoctorCheck.Ok(area, "no lower device named by the settings or the definitions"));
            return;
        }
        foreach (var (device, users) in wanted)
        {
            string by = string.Join(", ", users);
            if (!byName.TryGetValue(device, out Link link))
                checks.Add(DoctorCheck.Fail(area, $"{device} ({by}) does not exist on this host: guests using it do not start",
                    $"create {device}, or change the setting or definition that names it (Uplinks can map it to a device of this host)"));
            else if (!link.IsUp)
                checks.Add(DoctorCheck.Warn(area, $"{device} ({by}) exists but is down: guests on it have no carrier", $"ip link set {device} up"));
            else
                checks.Add(DoctorCheck.Ok(area, $"{device} ({by}) exists and is up"));
        }
    }

    private static void State(DoctorHost host, ShimSettings settings, IReadOnlyList<Link> links, List<DoctorCheck> checks)
    {
        const string area = "state";
        if (!Directory.Exists(settings.StateDir))
        {
            checks.Add(DoctorCheck.Ok(area, $"{settings.StateDir} does not exist yet: the first hook call creates it by seeding"));
            return;
        }
        var scheme = new NameScheme(settings.NamePrefix, settings.Capacity);
        var marker = LinkMarker.For(settings);
        StateLoad load;
        List<NameRecord> freed;
        try
        {
            using StateLease lease = ShimContext.StoreFor(settings, look: true).Lock();
            load = lease.Load(scheme);
            freed = GoneDefinitionsReport.Free(settings, lease, load.State, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        }
        catch (ShimFailure e)
        {
            checks.Add(DoctorCheck.Fail(area, e.Message,
                e.Advice ?? "fix the state directory's owner and mode (root, not writable by group or others)"));
            return;
        }
        if (load.State is not { } state)
        {
            checks.Add(DoctorCheck.Warn(area, $"{settings.StateDir}: no usable state ({load.Problem})",
                "the next hook call rebuilds it by seeding; 'libvirt-shim seed' does it now"));
            return;
        }
        var statusFiles = DomainInventory.Read(settings.LibvirtRunDir, Logger.None);
        var problems = StateAudit.Compare(state, marker, links, statusFiles.Keys.ToHashSet(), DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
                StatusCommand.VcpusRun(statusFiles))
            .Where(e => e.Problem is not null).ToList();
        checks.Add(problems.Count == 0
            ? DoctorCheck.Ok(area, $"{settings.StateDir}: {state.Count} names held, in agreement with the kernel")
            : DoctorCheck.Fail(area, $"{problems.Count} disagreement(s) between the state and the kernel: " +
                string.Join("; ", problems.Take(3).Select(p => $"{p.Name}: {p.Problem!.Value.Words().Text}")) + (problems.Count > 3 ? "; ..." : ""),
                "'libvirt-shim status' lists them with what to do; 'libvirt-shim seed' rebuilds the state from what runs"));
        if (freed.Count > 0)
            checks.Add(DoctorCheck.Ok(area, $"freed {freed.Count} name(s) held for definitions that are gone: " +
                string.Join(", ", freed.Select(r => $"{r.Name} ({r.DomainName})"))));
        double used = (double)state.HeldManagedNames / scheme.Capacity;
        if (used >= 0.9)
            checks.Add(DoctorCheck.Warn(area, $"{state.HeldManagedNames} of {scheme.Capacity} {scheme.Prefix}N names are held ({used:P0})",
                "raise Capacity before the names run out"));
    }

    /// <summary>Not running is a warning: the hook works without it, as it did before there was one, at the cost it names.</summary>
    private static void Listener(ShimSettings settings, List<DoctorCheck> checks)
    {
        const string area = "listener";
        var listener = ListenerView.Look(settings.StateDir);
        string At(long t) => DateTimeOffset.FromUnixTimeSeconds(t).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
        checks.Add(listener.Running
            ? DoctorCheck.Ok(area, listener.Describe(At))
            : DoctorCheck.Warn(area, listener.Describe(At), ListenerView.Start));
    }

    private static void Log(ShimSettings settings, List<DoctorCheck> checks)
    {
        const string area = "log";
        string? directory = Path.GetDirectoryName(settings.LogFile);
        bool writable = File.Exists(settings.LogFile)
            ? Interop.Files.IsWritable(settings.LogFile)
            : directory is not null && Directory.Exists(directory) && Interop.Files.IsWritable(directory);
        if (Interop.Files.Probe(settings.LogFile, followSymlinks: false) is { IsRegularFile: false })
            checks.Add(DoctorCheck.Warn(area,
                $"{settings.LogFile} is not a regular file (a FIFO, device, directory or symbolic link): the hook works but logs nothing",
                "remove it (the hook creates the log file), or set LogFile"));
        else checks.Add(writable
            ? DoctorCheck.Ok(area, $"{settings.LogFile} ({settings.LogFormat}, level {settings.LogLevel}, " +
                $"rolls at {settings.LogFileSizeLimitBytes / 1024} KiB, keeps {settings.LogRetainedFiles})")
            : DoctorCheck.Warn(area, $"{settings.LogFile} cannot be written: the hook works but logs nothing",
                $"create {directory} (root-owned), or set LogFile"));
        if (settings.Syslog)
            checks.Add(File.Exists(settings.SyslogSocket)
                ? DoctorCheck.Ok(area, $"syslog via {settings.SyslogSocket} (facility {settings.SyslogFacility})")
                : DoctorCheck.Warn(area, $"Syslog is on but {settings.SyslogSocket} does not exist: events go to the file only",
                    "start a syslog daemon (rsyslog, systemd-journald), or set Syslog to false"));
    }

    private static IEnumerable<string> EnumerateXml(string directory)
    {
        if (!Directory.Exists(directory)) return [];
        try
        {
            return Directory.EnumerateFiles(directory, "*.xml").Order(StringComparer.Ordinal).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

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
