using System.Diagnostics;
using System.Text;
using LibvirtShim.Configuration;
using LibvirtShim.Hook;
using LibvirtShim.State;

namespace LibvirtShim.Tests.TestSupport;

internal sealed record HookResult(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// A throw-away host for the hook: a network namespace with veth lower devices, a /dev and /sys of its own for the tap
/// nodes (<see cref="DeviceSandbox"/>: never the host's /dev), and a directory holding the state, libvirt's run and config
/// directories, the settings file and the log. Calls run in-process through the real hook logic (<see cref="Run"/>) or as
/// real processes of the hook executable inside the namespace and the sandbox (<see cref="StartProcess"/>).
/// </summary>
internal sealed class HookHarness : IDisposable
{
    private HookHarness(NetNamespace ns, DeviceSandbox devices, string root)
    {
        Ns = ns;
        Devices = devices;
        Root = root;
        Settings = new ShimSettings
        {
            StateDir = Path.Combine(root, "state"),
            LibvirtRunDir = Path.Combine(root, "run"),
            LibvirtConfigDir = Path.Combine(root, "etc"),
            LogFile = Path.Combine(root, "shim.log"),
            LogLevel = "Debug",
        };
        Directory.CreateDirectory(Settings.LibvirtRunDir);
        Directory.CreateDirectory(Settings.LibvirtConfigDir);
        File.WriteAllText(SettingsFile, "{}");
    }

    public NetNamespace Ns { get; }

    /// <summary>The harness's /dev (a tmpfs) and the namespace's /sys: where the hook makes and looks up tap nodes.</summary>
    public DeviceSandbox Devices { get; }

    public string Root { get; }
    public ShimSettings Settings { get; }
    public string SettingsFile => Path.Combine(Root, "libvirt-shim.json");
    public TimeProvider Clock { get; set; } = TimeProvider.System;

    /// <summary>A namespace with veth lower devices named <paramref name="uplinks"/> (default uplink0), all up.</summary>
    public static HookHarness Create(params string[] uplinks)
    {
        Requires.Root();
        NetNamespace ns = NetNamespace.Create();
        string root = Directory.CreateTempSubdirectory("shim-test-").FullName;
        DeviceSandbox? devices = null;
        try
        {
            foreach (string uplink in uplinks.Length > 0 ? uplinks : ["uplink0"]) ns.AddVeth(uplink, uplink + "p");
            devices = DeviceSandbox.Start(ns.Name);
            return new HookHarness(ns, devices, root);
        }
        catch
        {
            devices?.Dispose();
            ns.Dispose();
            Directory.Delete(root, recursive: true);
            throw;
        }
    }

    /// <summary>
    /// How calls open the netfilter socket of the guards: inside the namespace, counted in <see cref="GuardSocketsOpened"/>.
    /// A test replaces it to prove a call never opens one.
    /// </summary>
    public Func<LibvirtShim.Netfilter.GuardTables>? OpenGuards { get; set; }

    public int GuardSocketsOpened { get; private set; }

    private LibvirtShim.Netfilter.GuardTables OpenGuardTables()
    {
        GuardSocketsOpened++;
        return (OpenGuards ?? Ns.OpenGuardTables)();
    }

    public HookHost Host => new(
        () => { SettingsValidator.Validate(Settings); return Settings; },
        Ns.OpenLinkTable,
        OpenGuardTables,
        Clock,
        LibvirtShim.Logging.ShimLog.Create,
        Devices.Taps);

    /// <summary>A context for calling the lifecycle operations directly, on this harness's namespace, devices and settings.</summary>
    public LibvirtShim.Session.ShimContext OpenContext() =>
        new(Settings, Ns.OpenLinkTable, OpenGuardTables, Devices.Taps, Serilog.Core.Logger.None, Clock);

    public HookResult Run(string domain, string operation, string subOperation, string xml, string extra = "-") =>
        Run(domain, operation, subOperation, Encoding.UTF8.GetBytes(xml), extra);

    public HookResult Run(string domain, string operation, string subOperation, byte[] xml, string extra = "-")
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = new HookRunner(Host).Run(new HookCall(domain, operation, subOperation, extra), new MemoryStream(xml), stdout, stderr);
        return new HookResult(exit, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The state as a later call would read it (null when missing or invalid).</summary>
    public NameState? ReadState()
    {
        var store = new StateStore(Settings.StateDir, TimeSpan.FromSeconds(10));
        using StateLease lease = store.LockToChange();
        return lease.Load(new NameScheme(Settings.NamePrefix, Settings.Capacity)).State;
    }

    /// <summary>Pretends libvirt runs the guest: its status file in the run directory.</summary>
    public void WriteStatusFile(string name, string domainXml) =>
        File.WriteAllText(Path.Combine(Settings.LibvirtRunDir, name + ".xml"),
            $"<domstatus state='running' reason='booted' pid='1'>\n{domainXml}</domstatus>\n");

    public void RemoveStatusFile(string name) => File.Delete(Path.Combine(Settings.LibvirtRunDir, name + ".xml"));

    /// <summary>A command the hook process is started under (its first word the program), e.g. unshare with a host name of its own.</summary>
    public string[] Wrapper { get; set; } = [];

    /// <summary>Starts the hook executable as libvirt would, inside the namespace, with this harness's settings.</summary>
    public Process StartProcess(params string[] args)
    {
        var (file, prefix) = HookExecutable.Command();
        return StartExecutable(file, [.. prefix, .. args]);
    }

    /// <summary>
    /// <paramref name="file"/> (the hook under another name, say) inside the namespace and the device sandbox, with this
    /// harness's settings.
    /// </summary>
    public Process StartExecutable(string file, IEnumerable<string> args)
    {
        string[] command = [.. Wrapper, .. Devices.Enter, file, .. args];
        var start = new ProcessStartInfo(command[0]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in command[1..]) start.ArgumentList.Add(a);
        start.Environment["LIBVIRT_SHIM_CONFIG"] = SettingsFile;
        start.Environment["LIBVIRT_SHIM_STATEDIR"] = Settings.StateDir;
        start.Environment["LIBVIRT_SHIM_LIBVIRTRUNDIR"] = Settings.LibvirtRunDir;
        start.Environment["LIBVIRT_SHIM_LIBVIRTCONFIGDIR"] = Settings.LibvirtConfigDir;
        start.Environment["LIBVIRT_SHIM_LOGFILE"] = Settings.LogFile;
        start.Environment["LIBVIRT_SHIM_LOCKTIMEOUTSECONDS"] =
            Settings.LockTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Process.Start(start)!;
    }

    /// <summary>Runs the executable's hook verb with <paramref name="xml"/> on stdin and waits for it.</summary>
    public HookResult RunProcess(string domain, string operation, string subOperation, string xml)
    {
        using Process process = StartProcess("hook", domain, operation, subOperation, "-");
        return Finish(process, xml);
    }

    public static HookResult Finish(Process process, string stdin)
    {
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        WriteStdin(process, stdin);
        process.WaitForExit();
        return new HookResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Writes the domain XML and closes stdin; a hook that has already exited (a broken pipe) is fine.</summary>
    public static void WriteStdin(Process process, string stdin)
    {
        try
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
        }
    }

    public void Dispose()
    {
        Devices.Dispose();
        Ns.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// The hook as a process: the NativeAOT artifact when ./build.sh made it from the code these tests were built with
/// (not older than the JIT build beside the tests), else that JIT build.
/// </summary>
internal static class HookExecutable
{
    private static string JitBuild => Path.Combine(AppContext.BaseDirectory, "libvirt-shim.dll");

    public static string? FreshArtifact
    {
        get
        {
            string path = Path.Combine(SampleFiles.RepositoryRoot, "artifacts", "libvirt-shim");
            return File.Exists(path) && File.GetLastWriteTimeUtc(path) >= File.GetLastWriteTimeUtc(JitBuild) ? path : null;
        }
    }

    public static (string File, string[] Prefix) Command() =>
        FreshArtifact is { } artifact ? (artifact, []) : ("dotnet", [JitBuild]);
}
