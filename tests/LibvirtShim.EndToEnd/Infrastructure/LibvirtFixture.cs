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
/// The machine as the suite needs it, once for all scenarios: libvirtd and virtlogd up (scripts/libvirt-up.sh), the
/// hook installed from artifacts/libvirt-shim by hooks/install.sh, a test settings file, the uplink veths, libvirtd
/// restarted once so it sees the hook. At the end: every e2e- guest, network, veth and link gone, the hook
/// uninstalled, the original settings file back, libvirtd restarted without the hook.
/// </summary>
public sealed class LibvirtFixture : IAsyncLifetime
{
    public const string SettingsPath = "/etc/libvirt/libvirt-shim.json";
    public const string StateDir = "/run/libvirt/shim";
    public const string ManifestPath = "/usr/local/lib/libvirt-shim/installed";
    public const string ShimLogPath = "/var/log/libvirt/shim.log";
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

    public TimingsBook Timings { get; } = new();
    public string RepoRoot { get; private set; } = "";
    public string WorkDir { get; private set; } = "";
    public Virsh Main { get; private set; } = null!;

    /// <summary>The booting guests' kernel and initramfs (scripts/guest-image.sh, cached between runs).</summary>
    public (string Kernel, string Initrd) GuestImage { get; private set; }

    public static bool InCi => Environment.GetEnvironmentVariable("SHIM_TEST_CI") == "1";

    public string Script(string relative) => Path.Combine(RepoRoot, relative);

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
            throw new InvalidOperationException($"{binary} is missing: build it first with ./build.sh (the end-to-end tests install that file as the hook; they build nothing themselves)");
        WorkDir = Directory.CreateTempSubdirectory("libvirt-shim-e2e-").FullName;
        Main = new Virsh(Virsh.MainUri, WorkDir);

        Cmd.Run(Script("scripts/libvirt-up.sh"), [], TimeSpan.FromMinutes(10)).MustSucceed("scripts/libvirt-up.sh");
        RemoveLeftovers();
        var imageWatch = Stopwatch.StartNew();
        string imageDir = Cmd.Run(Script("scripts/guest-image.sh"), [], TimeSpan.FromMinutes(10)).MustSucceed("scripts/guest-image.sh")
            .Stdout.Trim().Split('\n')[^1];
        GuestImage = (Path.Combine(imageDir, "vmlinuz"), Path.Combine(imageDir, "initrd.gz"));
        Timings.Add($"guest image (scripts/guest-image.sh, {imageDir}): {imageWatch.Elapsed.TotalSeconds:0.0}s");

        _settingsExisted = File.Exists(SettingsPath);
        _originalSettings = _settingsExisted ? await File.ReadAllBytesAsync(SettingsPath) : null;
        _installedBefore = File.Exists(ManifestPath);
        _stateDirExisted = Directory.Exists(StateDir);
        _setUp = true;

        try
        {
            _weInstalled = true;
            Cmd.Run(Script("hooks/install.sh"), [], TimeSpan.FromSeconds(60)).MustSucceed("hooks/install.sh");
            WriteSettings();
            Veth.Ensure(Uplink0);
            Veth.Ensure(Uplink1);
            Lan.Create(Uplink0 + "p", Uplink1 + "p");
            RestartLibvirtd();
            Cmd.Run(ShimStatus.Executable, ["seed"]).MustSucceed("libvirt-shim seed (a clean state to start from)");
        }
        catch
        {
            // A half set-up machine is put back as it was before failing every test.
            try { await DisposeAsync(); } catch (InvalidOperationException) { }
            _setUp = false;
            throw;
        }
        Timings.Add($"suite set-up (libvirt-up.sh, guest image, install.sh, settings, veths, LAN, libvirtd restart, seed): {watch.Elapsed.TotalSeconds:0.0}s");
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
                Timings.Add($"note: {ManifestPath} existed before the suite: the hook is left installed");
            }
            else
            {
                Try(problems, "hooks/uninstall.sh", () => Cmd.Run(Script("hooks/uninstall.sh"), [], TimeSpan.FromSeconds(60)).MustSucceed("hooks/uninstall.sh"));
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
        Try(problems, "restarting libvirtd without the hook", RestartLibvirtd);
        Try(problems, "checking nothing is left", () =>
        {
            var left = new List<string>();
            var guests = Main.Names(all: true).Where(n => n.StartsWith(Virsh.GuestPrefix, StringComparison.Ordinal)).ToList();
            if (guests.Count > 0) left.Add($"guests: {string.Join(", ", guests)}");
            var links = IpLinks.All().Where(l => l.Name.StartsWith(Veth.Prefix, StringComparison.Ordinal) || l.Mac.StartsWith("52:54:00:e2:", StringComparison.Ordinal)).ToList();
            if (links.Count > 0) left.Add($"links: {string.Join("; ", links)}");
            if (Lan.Exists()) left.Add($"network namespace {Lan.Namespace}");
            if (left.Count > 0) throw new InvalidOperationException(string.Join(" / ", left));
        });
        TryDeleteDirectory(WorkDir);
        Timings.Add($"suite tear-down (clean-up, uninstall.sh, settings restored, libvirtd restart): {watch.Elapsed.TotalSeconds:0.0}s");
        string summary = Timings.Summary();
        try
        {
            string file = Path.Combine(RepoRoot, "artifacts", "e2e-timings.txt");
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
                throw new InvalidOperationException($"another run of the end-to-end tests holds {MachineLockPath} for over {MachineLockWait.TotalMinutes:0} min: {e.Message}");
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
        string why = $"{_skipReason}. To run the end-to-end tests: sudo scripts/libvirt-up.sh then ./test.sh (as root)";
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

    /// <summary>The test settings: the defaults (state in /run/libvirt/shim), our lower devices, this instance; plus <paramref name="tweak"/>.</summary>
    public void WriteSettings(Action<JsonObject>? tweak = null)
    {
        var settings = new JsonObject
        {
            ["StateDir"] = StateDir,
            ["AllowedLowerDevices"] = new JsonArray(Uplink0, Uplink1, MissingDevice),
            ["Uplinks"] = new JsonObject(),
            ["Instance"] = Instance,
            ["LogFile"] = ShimLogPath,
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
            Cmd.Run(ShimStatus.Executable, ["seed"]).MustSucceed("libvirt-shim seed");
        }
        catch (CommandFailedException e)
        {
            Timings.Add($"note: after the {guestPrefix}* scenario: {e.Message}");
        }
    }

    public void RestartLibvirtd() =>
        Cmd.Run(Script("scripts/libvirt-up.sh"), ["--restart"], TimeSpan.FromMinutes(2)).MustSucceed("scripts/libvirt-up.sh --restart");

    public ShimStatus Status() => ShimStatus.Read();

    /// <summary>The hook's log from <paramref name="offset"/> on (see <see cref="LogOffset"/>), for failure messages.</summary>
    public static string ShimLogSince(long offset)
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

    public static long LogOffset() => File.Exists(ShimLogPath) ? new FileInfo(ShimLogPath).Length : 0;

    private void RemoveLeftovers()
    {
        PeerHost.StopLeftover(this);
        Main.RemoveGuests(Virsh.GuestPrefix);
        Main.RemoveNetworks(Virsh.GuestPrefix);
        Lan.Delete();
        Veth.DeleteAllOurs();
    }

    private static string? MissingPrerequisite()
    {
        if (geteuid() != 0) return "the end-to-end tests need root (they create links and run libvirtd)";
        string[] tools = ["virsh", "libvirtd", "virtlogd", "qemu-system-x86_64", "ip"];
        var missing = tools.Where(t => !OnPath(t)).ToList();
        if (missing.Count > 0) return $"libvirt is not installed here (missing: {string.Join(", ", missing)})";
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
