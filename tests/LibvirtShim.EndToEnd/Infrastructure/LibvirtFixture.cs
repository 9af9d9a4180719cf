using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace LibvirtShim.EndToEnd.Infrastructure;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LibvirtCollection : ICollectionFixture<LibvirtFixture>
{
    public const string Name = "libvirt";
}

/// <summary>
/// The machine as the suite needs it, once for all scenarios: the daemon under test (<see cref="DaemonUnderTest"/>:
/// this host's libvirtd or virtqemud, or libvirt 11.3 of scripts/libvirt-next.sh) and virtlogd up, the hook installed
/// from artifacts/libvirt-shim by hooks/install.sh, the suite's own settings (its name prefix, state directory and log),
/// the uplink veths, the daemon restarted once so it sees the hook. At the end: every e2e- guest, network, veth and
/// link gone, the hook uninstalled, the original settings file back, the daemon restarted without the hook.
/// </summary>
public sealed class LibvirtFixture : IAsyncLifetime
{
    /// <summary>Paths in the daemon's file system (as the hook sees them); <see cref="DaemonUnderTest.HostPath"/> gives them from here.</summary>
    public const string SettingsFile = "/etc/libvirt/libvirt-shim.json";
    public const string StateDirFile = "/run/libvirt/shim-e2e";
    public const string ManifestFile = "/usr/local/lib/libvirt-shim/installed";
    public const string ShimLogFile = "/var/log/libvirt/shim-e2e.log";
    public const string Instance = "main";

    /// <summary>The main host's uplink, the peer's uplink, and one that AllowedLowerDevices leaves out.</summary>
    public const string Uplink0 = "e2e-up0";
    public const string Uplink1 = "e2e-up1";
    public const string Disallowed = "e2e-up2";

    /// <summary>Allowed, but never created: a missing lower device.</summary>
    public const string MissingDevice = "e2e-gone0";

    /// <summary>Two runs of this suite on one machine (say, two ./test.sh at once) would fight over libvirtd and the links.</summary>
    public const string MachineLockPath = "/run/lock/libvirt-shim-e2e.lock";
    private static readonly TimeSpan MachineLockWait = TimeSpan.FromMinutes(15);

    private FileStream? _machineLock;
    private string? _skipReason;
    private bool _settingsExisted;
    private byte[]? _originalSettings;
    private bool _installedBefore;
    private bool _stateDirExisted;
    private bool _weInstalled;
    private bool _setUp;
    private bool _daemonRanBefore = true;

    public TimingsBook Timings { get; } = new();
    public DaemonUnderTest Daemon { get; } = DaemonUnderTest.FromEnvironment();
    public string SettingsPath => Daemon.HostPath(SettingsFile);
    public string StateDir => Daemon.HostPath(StateDirFile);
    public string ShimLogPath => Daemon.HostPath(ShimLogFile);

    /// <summary>Where the daemon keeps its guests' status XML and QEMU pid files.</summary>
    public string QemuRunDir => Daemon.HostPath("/run/libvirt/qemu");

    /// <summary>What the suite runs against: "libvirt 9.0.0, QEMU 7.2.x (libvirtd (pid N)) at qemu:///system".</summary>
    public string Versions { get; private set; } = "";
    public string RepoRoot { get; private set; } = "";
    public string WorkDir { get; private set; } = "";
    public Virsh Main { get; private set; } = null!;

    /// <summary>The booting guests' kernel and initramfs (scripts/guest-image.sh, cached between runs).</summary>
    public (string Kernel, string Initrd) GuestImage { get; private set; }

    public static bool InCi => Environment.GetEnvironmentVariable("SHIM_TEST_CI") == "1";

    public string Script(string relative) => Path.Combine(RepoRoot, relative);

    /// <summary>
    /// For a scenario that cannot apply to this run's daemon: says why in one line, in the test's output and the timings,
    /// and returns true (the scenario then passes without running: CI has no skipped tests).
    /// </summary>
    public bool NotApplicable(bool when, string why)
    {
        if (!when) return false;
        string line = $"not applicable to the {Daemon.Profile} run: {why}";
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        Timings.Add(line);
        return true;
    }

    /// <summary>The suite's managed name number <paramref name="number"/> (NamePrefix + number).</summary>
    public string Tap(int number) => Daemon.NamePrefix + number;

    /// <summary>libvirt-shim ARGS where the hook runs (the daemon's root and mount namespace).</summary>
    public CmdResult Shim(params string[] args) => WhereTheHookRuns([ShimStatus.Executable, .. args]);

    public CmdResult Shim(string[] args, string? stdin) => WhereTheHookRuns([ShimStatus.Executable, .. args], stdin);

    private CmdResult WhereTheHookRuns(string[] command) => WhereTheHookRuns(command, null);

    private CmdResult WhereTheHookRuns(string[] command, string? stdin)
    {
        string[] full = Daemon.Where(RepoRoot, command);
        return Cmd.Run(full[0], full[1..], TimeSpan.FromSeconds(120), stdin: stdin);
    }

    public async ValueTask InitializeAsync()
    {
        _skipReason = MissingPrerequisite();
        if (_skipReason is not null) return;

        var watch = Stopwatch.StartNew();
        _machineLock = await TakeMachineLock();
        Timings.Add($"machine lock {MachineLockPath} taken after {watch.Elapsed.TotalSeconds:0.0}s");
        RepoRoot = FindRepoRoot();
        string binary = Path.Combine(RepoRoot, "artifacts", "libvirt-shim");
        if (!File.Exists(binary))
            throw new InvalidOperationException($"{binary} is missing: build it first with ./build.sh " +
                "(the end-to-end tests install that file as the hook; they build nothing themselves)");
        WorkDir = Directory.CreateTempSubdirectory("libvirt-shim-e2e-").FullName;
        Main = new Virsh(Daemon.Uri, WorkDir);

        // The host's libvirt first in any case: its virsh and tools serve every profile, and the migration peers run its daemon.
        Cmd.Run(Script("scripts/libvirt-up.sh"), [], TimeSpan.FromMinutes(10)).MustSucceed("scripts/libvirt-up.sh");
        var imageWatch = Stopwatch.StartNew();
        string imageDir = Cmd.Run(Script("scripts/guest-image.sh"), [], TimeSpan.FromMinutes(10)).MustSucceed("scripts/guest-image.sh")
            .Stdout.Trim().Split('\n')[^1];
        GuestImage = (Path.Combine(imageDir, "vmlinuz"), Path.Combine(imageDir, "initrd.gz"));
        Timings.Add($"guest image (scripts/guest-image.sh, {imageDir}): {imageWatch.Elapsed.TotalSeconds:0.0}s");
        ControlEnvironment = new Dictionary<string, string> { ["LIBVIRT_NEXT_BIND"] = $"{imageDir} {WorkDir}" };
        if (Daemon.Control != DaemonUnderTest.Host.Control)
        {
            _daemonRanBefore = Cmd.Run(Script(Daemon.Control), ["status"], TimeSpan.FromSeconds(30)).Ok;
            var daemonWatch = Stopwatch.StartNew();
            Control("start", TimeSpan.FromMinutes(20));
            Timings.Add($"daemon under test started ({Daemon.Control} start, builds its tree the first time): " +
                $"{daemonWatch.Elapsed.TotalSeconds:0.0}s");
        }
        Versions = $"{DaemonUnderTest.Versions(Main)} at {Daemon.Uri}, hook NamePrefix {Daemon.NamePrefix}";
        Timings.Add($"daemon under test ({Daemon.Profile}): {Versions}");
        Console.Error.WriteLine($"end-to-end tests against {Daemon.Profile}: {Versions}");
        RemoveLeftovers();

        _settingsExisted = File.Exists(SettingsPath);
        _originalSettings = _settingsExisted ? await File.ReadAllBytesAsync(SettingsPath) : null;
        _installedBefore = File.Exists(Daemon.HostPath(ManifestFile));
        _stateDirExisted = Directory.Exists(StateDir);
        _setUp = true;

        try
        {
            _weInstalled = true;
            // The scenarios that need the listener start their own (StartListener): the others test the hook without one.
            Cmd.Run(Script("hooks/install.sh"), Daemon.InTree ? ["--root", Daemon.Root, "--no-reload", "--no-watch"] : ["--no-watch"],
                    TimeSpan.FromSeconds(60))
                .MustSucceed("hooks/install.sh");
            WriteSettings();
            Veth.Ensure(Uplink0);
            Veth.Ensure(Uplink1);
            Lan.Create(Uplink0 + "p", Uplink1 + "p");
            RestartDaemon();
            Shim("seed").MustSucceed("libvirt-shim seed (a clean state to start from)");
        }
        catch
        {
            // A half set-up machine is put back as it was before failing every test.
            try { await DisposeAsync(); } catch (InvalidOperationException) { }
            _setUp = false;
            throw;
        }
        Timings.Add("suite set-up (libvirt-up.sh, guest image, daemon, install.sh, settings, veths, LAN, daemon restart, seed): " +
            $"{watch.Elapsed.TotalSeconds:0.0}s");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_setUp)
        {
            if (WorkDir.Length > 0) TryDeleteDirectory(WorkDir);
            ReleaseMachineLock();
            return;
        }
        var watch = Stopwatch.StartNew();
        var problems = new List<string>();
        Try(problems, "removing e2e- guests, networks, the peer", RemoveLeftovers);
        Try(problems, "putting back /dev/tap nodes set aside", () => TapNodes.PutBack());
        if (_weInstalled)
        {
            if (_installedBefore)
            {
                // Someone had installed the hook before: leave it installed (now with this build), settings restored.
                Timings.Add($"note: {Daemon.HostPath(ManifestFile)} existed before the suite: the hook is left installed");
            }
            else
            {
                Try(problems, "hooks/uninstall.sh", () => Cmd.Run(Script("hooks/uninstall.sh"),
                    Daemon.InTree ? ["--root", Daemon.Root, "--no-reload"] : [],
                    TimeSpan.FromSeconds(60)).MustSucceed("hooks/uninstall.sh"));
            }
        }
        Try(problems, "restoring the settings file", () =>
        {
            if (_settingsExisted) File.WriteAllBytes(SettingsPath, _originalSettings!);
            else if (File.Exists(SettingsPath) && !_installedBefore) File.Delete(SettingsPath);
        });
        Try(problems, "removing the state directory the suite created", () =>
        {
            if (!_stateDirExisted && Directory.Exists(StateDir)) Directory.Delete(StateDir, recursive: true);
        });
        Try(problems, "checking nothing is left", () =>
        {
            var left = new List<string>();
            var guests = Main.Names(all: true).Where(n => n.StartsWith(Virsh.GuestPrefix, StringComparison.Ordinal)).ToList();
            if (guests.Count > 0) left.Add($"guests: {string.Join(", ", guests)}");
            var links = IpLinks.All().Where(l => l.Name.StartsWith(Veth.Prefix, StringComparison.Ordinal)
                || l.Mac.StartsWith("52:54:00:e2:", StringComparison.Ordinal)).ToList();
            if (links.Count > 0) left.Add($"links: {string.Join("; ", links)}");
            if (Lan.Exists()) left.Add($"network namespace {Lan.Namespace}");
            if (left.Count > 0) throw new InvalidOperationException(string.Join(" / ", left));
        });
        if (_daemonRanBefore) Try(problems, "restarting the daemon without the hook", RestartDaemon);
        else Try(problems, "stopping the daemon the suite started", () => Control("stop", TimeSpan.FromMinutes(2)));
        TryDeleteDirectory(WorkDir);
        Timings.Add($"suite tear-down (clean-up, uninstall.sh, settings restored, daemon restart): {watch.Elapsed.TotalSeconds:0.0}s");
        string summary = Timings.Summary();
        try
        {
            string file = Path.Combine(RepoRoot, "artifacts", Daemon.Profile == "host" ? "e2e-timings.txt" : $"e2e-timings-{Daemon.Profile}.txt");
            await File.WriteAllTextAsync(file, summary);
            Console.Error.WriteLine($"{summary}(written to {file})");
        }
        catch (IOException)
        {
            Console.Error.WriteLine(summary);
        }
        ReleaseMachineLock();
        if (problems.Count > 0) throw new InvalidOperationException("end-to-end tear-down: " + string.Join("\n", problems));
    }

    /// <summary>An exclusive lock (flock, released by the kernel if this process dies) held for the whole suite.</summary>
    private static async Task<FileStream> TakeMachineLock()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(MachineLockPath)!);
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(MachineLockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (watch.Elapsed < MachineLockWait)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
            catch (IOException e)
            {
                throw new InvalidOperationException($"another run of the end-to-end tests holds {MachineLockPath} " +
                    $"for over {MachineLockWait.TotalMinutes:0} min: {e.Message}");
            }
        }
    }

    private void ReleaseMachineLock()
    {
        _machineLock?.Dispose();
        _machineLock = null;
    }

    /// <summary>First line of every scenario: skips (or fails in CI) without root and libvirt.</summary>
    public void Require()
    {
        if (_skipReason is null) return;
        string why = $"{_skipReason}. To run the end-to-end tests: ./test.sh as root (it runs scripts/libvirt-up.sh)";
        if (InCi) Assert.Fail($"{why} (SHIM_TEST_CI=1: a missing prerequisite is a failure in CI)");
        Assert.Skip(why);
    }

    /// <summary>A scenario's log; first, /dev/tap nodes of other namespaces are set aside (see <see cref="TapNodes"/>).</summary>
    public ScenarioLog Scenario(string title)
    {
        var log = new ScenarioLog(title, Timings);
        if (_skipReason is null) log.Say($"/dev/tap nodes of other namespaces set aside: {TapNodes.MakeRoom()}");
        return log;
    }

    /// <summary>
    /// The test settings: the suite's name prefix, state directory and log, our lower devices, this instance; plus
    /// <paramref name="tweak"/>.
    /// </summary>
    public void WriteSettings(Action<JsonObject>? tweak = null)
    {
        var settings = new JsonObject
        {
            ["NamePrefix"] = Daemon.NamePrefix,
            ["StateDir"] = StateDirFile,
            ["AllowedLowerDevices"] = new JsonArray(Uplink0, Uplink1, MissingDevice),
            ["Uplinks"] = new JsonObject(),
            ["Instance"] = Instance,
            ["LogFile"] = ShimLogFile,
            ["LogLevel"] = "Information",
        };
        tweak?.Invoke(settings);
        File.WriteAllText(SettingsPath, settings.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>
    /// A scenario's clean-up, whatever its outcome: its guests (name prefix) destroyed and undefined; then, so the
    /// next scenario starts from a clean state, a state that still holds names or reports problems is rebuilt with
    /// `libvirt-shim seed` (noted in the timings; the scenario's own assertions have already judged it).
    /// </summary>
    public void AfterScenario(string guestPrefix)
    {
        Main.RemoveGuests(guestPrefix);
        TapNodes.PutBack();
        try
        {
            ShimStatus status = Status();
            if (status.Names.Count == 0 && status.ExitCode == 0) return;
            Timings.Add($"note: after the {guestPrefix}* scenario the state was not empty, reseeded: {status.Show().Replace("\n", "\n    ")}");
            Shim("seed").MustSucceed("libvirt-shim seed");
        }
        catch (CommandFailedException e)
        {
            Timings.Add($"note: after the {guestPrefix}* scenario: {e.Message}");
        }
    }

    /// <summary>Restarts the daemon under test (it reads whether a hook exists only when it starts); running guests keep running.</summary>
    public void RestartDaemon() => Control("restart", TimeSpan.FromMinutes(2));

    private CmdResult Control(string verb, TimeSpan timeout) =>
        Cmd.Run(Script(Daemon.Control), [verb], timeout, ControlEnvironment).MustSucceed($"{Daemon.Control} {verb}");

    /// <summary>
    /// For the daemons' control scripts: a daemon in a tree (scripts/libvirt-next.sh) sees the guests' kernel, initramfs,
    /// consoles and save images only through these bind mounts (LIBVIRT_NEXT_BIND, read at start and restart).
    /// </summary>
    public IReadOnlyDictionary<string, string> ControlEnvironment { get; private set; } = new Dictionary<string, string>();

    public ShimStatus Status() => ShimStatus.Read(WhereTheHookRuns);

    /// <summary>The daemon under test's listener (libvirt-shim watch), started where its hook runs; the caller stops it (Dispose).</summary>
    public ShimListener StartListener() =>
        new ShimListener("main", Daemon.Where(RepoRoot, []), StateDir, WorkDir).Start();

    /// <summary>The hook's log from <paramref name="offset"/> on (see <see cref="LogOffset"/>), for failure messages.</summary>
    public string ShimLogSince(long offset)
    {
        try
        {
            using var stream = new FileStream(ShimLogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            if (offset > stream.Length) offset = 0;
            stream.Seek(offset, SeekOrigin.Begin);
            return new StreamReader(stream).ReadToEnd();
        }
        catch (IOException)
        {
            return "";
        }
    }

    public long LogOffset() => File.Exists(ShimLogPath) ? new FileInfo(ShimLogPath).Length : 0;

    private void RemoveLeftovers()
    {
        PeerHost.StopLeftover(this);
        Main.RemoveGuests(Virsh.GuestPrefix);
        Main.RemoveNetworks(Virsh.GuestPrefix);
        Lan.Delete();
        Neighbour.DeleteAll();
        Veth.DeleteAllOurs();
    }

    private string? MissingPrerequisite()
    {
        if (geteuid() != 0) return "the end-to-end tests need root (they create links and run libvirt daemons)";
        string[] tools = ["virsh", "virtlogd", "qemu-system-x86_64", "ip"];
        var missing = tools.Where(t => !OnPath(t)).ToList();
        if (!OnPath("libvirtd") && !OnPath("virtqemud")) missing.Add("libvirtd or virtqemud");
        if (missing.Count > 0) return $"libvirt is not installed here (missing: {string.Join(", ", missing)})";
        if (PackageState(Daemon.HostPath("/var/lib/dpkg/status")) is { } state and not "config-files" and not "not-installed")
            return $"the Debian package libvirt-shim is installed for the {Daemon.Profile} daemon (dpkg: {state}): the suite installs the hook " +
                   "under test with hooks/install.sh, which refuses beside it; 'apt-get remove libvirt-shim' (keeps its settings), then run again";
        return null;
    }

    /// <summary>The libvirt-shim package's dpkg state ("installed", "config-files", ...) in a dpkg status file, or null.</summary>
    public static string? PackageState(string dpkgStatus)
    {
        if (!File.Exists(dpkgStatus)) return null;
        bool ours = false;
        foreach (string line in File.ReadLines(dpkgStatus))
        {
            if (line.StartsWith("Package: ", StringComparison.Ordinal)) ours = line == "Package: libvirt-shim";
            else if (ours && line.StartsWith("Status: ", StringComparison.Ordinal)) return line.Split(' ')[^1];
        }
        return null;
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/sbin"])
        .Any(d => d.Length > 0 && File.Exists(Path.Combine(d, tool)));

    private static string FindRepoRoot()
    {
        if (Environment.GetEnvironmentVariable("LIBVIRT_SHIM_REPO") is { Length: > 0 } chosen) return chosen;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LibvirtShim.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"cannot find the repository (LibvirtShim.sln) above {AppContext.BaseDirectory}; set LIBVIRT_SHIM_REPO");
    }

    private static void Try(List<string> problems, string what, Action action)
    {
        try
        {
            action();
        }
        catch (Exception e)
        {
            problems.Add($"{what}: {e.Message}");
        }
    }

    private static void TryDeleteDirectory(string dir)
    {
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [DllImport("libc")]
    private static extern uint geteuid();
}
