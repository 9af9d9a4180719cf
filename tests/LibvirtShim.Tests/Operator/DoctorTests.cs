using System.Text.Json;
using LibvirtShim.Cli;
using LibvirtShim.Configuration;
using LibvirtShim.Netlink;
using LibvirtShim.Reports.Doctor;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>
/// A made-up host for the doctor: a /proc with one libvirtd (comm, exe, maps naming its libvirt library, stat, its
/// mount namespace, root) and a root file system with /etc/libvirt/hooks, libraries, modules. Links are the
/// machine's own, only read.
/// </summary>
internal sealed class FakeHost : IDisposable
{
    public const int Pid = 4242;
    public const long BootTime = 1_700_000_000;

    private readonly TempTree _tree = new("shim-doctor-");

    public FakeHost(string libvirtVersion = "9000.0", bool daemon = true, bool macvtap = true, string daemonName = "libvirtd")
    {
        Proc = _tree.Path("proc");
        RootFs = _tree.Path("rootfs");
        Directory.CreateDirectory(RootFs);
        _tree.Write("proc/stat", $"cpu  1 2 3 4\nbtime {BootTime}\n");
        _tree.Write("proc/sys/kernel/osrelease", "6.1.0-test\n");
        _tree.Write("proc/devices", "Character devices:\n  1 mem\n" + (macvtap ? "246 macvtap\n" : ""));
        Directory.CreateDirectory(_tree.Path("proc/self/ns"));
        File.CreateSymbolicLink(_tree.Path("proc/self/ns/mnt"), "mnt:[4026531832]");
        if (daemon)
        {
            string dir = $"proc/{Pid}";
            _tree.Write($"{dir}/comm", daemonName + "\n");
            // Field 22, the start time in ticks after boot: 100 s after boot.
            _tree.Write($"{dir}/stat", $"{Pid} ({daemonName}) S 1 {string.Join(' ', Enumerable.Repeat("0", 17))} {StartTicks} 0 0\n");
            _tree.Write($"{dir}/maps", $"7f00-7f01 r--p 00000000 fe:00 1 /usr/lib/x86_64-linux-gnu/libvirt.so.0.{libvirtVersion}\n");
            Directory.CreateDirectory(_tree.Path($"{dir}/ns"));
            File.CreateSymbolicLink(_tree.Path($"{dir}/ns/mnt"), "mnt:[4026531832]");
            File.CreateSymbolicLink(_tree.Path($"{dir}/exe"), "/usr/sbin/" + daemonName);
            File.CreateSymbolicLink(_tree.Path($"{dir}/root"), RootFs);
        }
        _tree.Write("rootfs/usr/lib/x86_64-linux-gnu/libvirt.so.0." + libvirtVersion, "");
        Settings = new ShimSettings
        {
            StateDir = _tree.Path("state"),
            LogFile = _tree.Path("log/shim.log"),
            LibvirtRunDir = _tree.Path("run"),
            LibvirtConfigDir = _tree.Path("definitions"),
            Instance = "doctor-test",   // the host's real links are never this instance's
        };
        Directory.CreateDirectory(_tree.Path("log"));
    }

    /// <summary>The daemon's start in /proc/PID/stat: ticks after boot.</summary>
    public const long StartTicks = 10_000;

    public string Proc { get; }
    public string RootFs { get; }

    /// <summary>When the machine booted, as the real doctor reads it from the clocks; null: /proc/stat's btime.</summary>
    public TimeWindow? Boot { get; set; }

    /// <summary>
    /// Makes the daemon have started at <paramref name="startNanoseconds"/> (since the epoch): the boot time is set
    /// <see cref="StartTicks"/> ticks before it, to the nanosecond (<paramref name="preciseBoot"/>, as from the clocks) or
    /// as /proc/stat's btime, rounded down to the second.
    /// </summary>
    public void StartDaemonAt(long startNanoseconds, bool preciseBoot)
    {
        long boot = startNanoseconds - StartTicks * (1_000_000_000 / Interop.Process.ClockTicksPerSecond);
        Boot = preciseBoot ? new TimeWindow(boot, boot) : null;
        _tree.Write("proc/stat", $"cpu  1 2 3 4\nbtime {boot / 1_000_000_000}\n");
    }

    /// <summary>The hook's ctime as the doctor reads it (nanoseconds since the epoch).</summary>
    public long HookChangedAt(string hook) => Interop.Files.Probe(RootPath(hook), followSymlinks: false)!.Value.ChangedAtNanoseconds;
    public ShimSettings Settings { get; }
    public Func<ShimSettings>? LoadSettings { get; set; }

    public string Path(string relative) => _tree.Path(relative);
    public string Write(string relative, string content) => _tree.Write(relative, content);

    /// <summary>Installs a libvirt-shim executable at /usr/sbin/libvirt-shim and links <paramref name="hooks"/> to it.</summary>
    public void InstallHook(params string[] hooks)
    {
        FakeBinaries.Shim(RootPath("/usr/sbin/libvirt-shim"));
        foreach (string hook in hooks)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(RootPath(hook))!);
            File.CreateSymbolicLink(RootPath(hook), "/usr/sbin/libvirt-shim");
        }
    }

    public string RootPath(string path) => RootFs + path;

    public DoctorHost Host => new(Proc, RootFs, LinkTable.Open, 0, LoadSettings ?? (() => { SettingsValidator.Validate(Settings); return Settings; }),
        _tree.Path("libvirt-shim.json"), Boot);

    public List<DoctorCheck> Run() => DoctorChecks.Run(Host);

    public void Dispose() => _tree.Dispose();
}

public class DoctorTests
{
    private static DoctorCheck Single(List<DoctorCheck> checks, CheckStatus status, string detail) =>
        Assert.Single(checks, c => c.Status == status && c.Detail.Contains(detail, StringComparison.Ordinal));

    [Fact]
    public void AHealthyHostPasses()
    {
        using var host = new FakeHost();
        host.InstallHook("/etc/libvirt/hooks/qemu");
        host.Write("rootfs/run/libvirt-shim/sighup", $"{FakeHost.Pid} {DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 5}\n");
        var checks = host.Run();

        Assert.DoesNotContain(checks, c => c.Status == CheckStatus.Fail);
        Single(checks, CheckStatus.Ok, "macvtap is built in or loaded (kernel 6.1.0-test)");
        Single(checks, CheckStatus.Ok, $"libvirt 9.0.0 (libvirtd (pid {FakeHost.Pid}) /usr/sbin/libvirtd)");
        Single(checks, CheckStatus.Ok, "/etc/libvirt/hooks/qemu -> /usr/sbin/libvirt-shim is libvirt-shim, executable (as libvirtd");
        Single(checks, CheckStatus.Ok, "got SIGHUP from the installer after the hook was installed");
        Single(checks, CheckStatus.Ok, "does not exist yet: the first hook call creates it by seeding");
        var output = new StringWriter();
        Assert.Equal(0, DoctorCommand.Run(host.Host, json: false, output));
        Assert.Contains("all checks passed", output.ToString());
    }

    [Fact]
    public void NoHookFailsAndSaysHowToInstallIt()
    {
        using var host = new FakeHost();
        var checks = host.Run();
        DoctorCheck hook = Single(checks, CheckStatus.Fail, "no libvirt-shim hook in /etc/libvirt/hooks");
        Assert.Contains("hooks/install.sh", hook.Fix);
        Assert.Equal(1, DoctorCommand.Run(host.Host, json: false, new StringWriter()));
    }

    [Fact]
    public void ADaemonStartedBeforeTheHookWithoutSighupIsToldToReload()
    {
        using var host = new FakeHost();
        host.InstallHook("/etc/libvirt/hooks/qemu");
        DoctorCheck check = Single(host.Run(), CheckStatus.Warn, "before the hook appeared");
        Assert.Equal($"kill -HUP {FakeHost.Pid} (running guests are not affected)", check.Fix);
    }

    private const long Millisecond = 1_000_000;
    private const string Hook = "/etc/libvirt/hooks/qemu";

    /// <summary>
    /// Start and ctime compared at full precision: the start is known to a tick (10 ms) after a boot time read from the
    /// clocks, the ctime to the coarse clock's lag (10 ms at most). Only a start certainly before the hook is reported;
    /// too close to tell is not.
    /// </summary>
    [Theory]
    [InlineData(50, "Ok", "started after the hook was installed, so it calls it")]
    [InlineData(-50, "Warn", "before the hook appeared")]
    [InlineData(3, "Ok", "too close to tell which came first")]
    [InlineData(-3, "Ok", "too close to tell which came first")]
    public void TheDaemonsStartAndTheHooksAppearanceAreComparedToTheMillisecond(int startAfterHookMs, string status, string detail)
    {
        using var host = new FakeHost();
        host.InstallHook(Hook);
        host.StartDaemonAt(host.HookChangedAt(Hook) + startAfterHookMs * Millisecond, preciseBoot: true);

        DoctorCheck check = Assert.Single(host.Run(), c =>
            c.Area == "hook" && c.Detail.StartsWith($"libvirtd (pid {FakeHost.Pid}) ", StringComparison.Ordinal));

        Assert.Equal(Enum.Parse<CheckStatus>(status), check.Status);
        Assert.Contains(detail, check.Detail);
    }

    /// <summary>
    /// With only /proc/stat's btime (whole seconds, rounded down) the boot is known to a second: a daemon that started
    /// 400 ms after the hook is never said to have started before it (rounding down used to claim that; whether it is
    /// "after" or "too close to tell" depends on where in its second the boot fell), one that started 1.5 s before is.
    /// </summary>
    [Theory]
    [InlineData(400, "Ok", "so it")]
    [InlineData(-1500, "Warn", "before the hook appeared")]
    public void WithABootTimeInWholeSecondsOnlyACertainOrderIsReported(int startAfterHookMs, string status, string detail)
    {
        using var host = new FakeHost();
        host.InstallHook(Hook);
        host.StartDaemonAt(host.HookChangedAt(Hook) + startAfterHookMs * Millisecond, preciseBoot: false);

        DoctorCheck check = Assert.Single(host.Run(), c =>
            c.Area == "hook" && c.Detail.StartsWith($"libvirtd (pid {FakeHost.Pid}) ", StringComparison.Ordinal));

        Assert.Equal(Enum.Parse<CheckStatus>(status), check.Status);
        Assert.Contains(detail, check.Detail);
    }

    /// <summary>The installers note the SIGHUP to the nanosecond; a note from before the hook's ctime does not count, an older whole-second
    /// note counts within its second.</summary>
    [Theory]
    [InlineData(1, true, "Ok")]
    [InlineData(-20, true, "Warn")]
    [InlineData(0, false, "Ok")]
    [InlineData(-2000, false, "Warn")]
    public void ASighupNotedAfterTheHookAppearedCounts(int sighupAfterHookMs, bool nanoseconds, string status)
    {
        using var host = new FakeHost();
        host.InstallHook(Hook);
        long ctime = host.HookChangedAt(Hook);
        host.StartDaemonAt(ctime - 60_000 * Millisecond, preciseBoot: true);
        long at = ctime + sighupAfterHookMs * Millisecond;
        string noted = nanoseconds ? $"{at / 1_000_000_000}.{at % 1_000_000_000:d9}" : $"{at / 1_000_000_000}";
        host.Write("rootfs/run/libvirt-shim/sighup", $"{FakeHost.Pid + 1} {ctime / 1_000_000_000 + 10}\n{FakeHost.Pid} {noted}\n");

        DoctorCheck check = Assert.Single(host.Run(), c =>
            c.Area == "hook" && c.Detail.StartsWith($"libvirtd (pid {FakeHost.Pid}) ", StringComparison.Ordinal));

        Assert.Equal(Enum.Parse<CheckStatus>(status), check.Status);
        if (status == "Ok") Assert.Contains("got SIGHUP from the installer after the hook was installed", check.Detail);
    }

    [Theory]
    [InlineData("1700000000", 1_700_000_000_000_000_000, 1_700_000_001_000_000_000)]
    [InlineData("1700000000.5", 1_700_000_000_500_000_000, 1_700_000_000_500_000_000)]
    [InlineData("1700000000.123456789", 1_700_000_000_123_456_789, 1_700_000_000_123_456_789)]
    [InlineData("1700000000.1234567891", 1_700_000_000_123_456_789, 1_700_000_000_123_456_789)]
    public void SighupNotesInWholeSecondsOrNanoseconds(string text, long earliest, long latest) =>
        Assert.Equal(new TimeWindow(earliest, latest), HookCheck.SignalledAt(text));

    [Theory]
    [InlineData("")]
    [InlineData("x")]
    [InlineData("1.2.3")]
    [InlineData("-5")]
    [InlineData("12.x")]
    public void GarbageSighupNotesAreIgnored(string text) => Assert.Null(HookCheck.SignalledAt(text));

    [Fact]
    public void VirtqemudIsNamedAsItself()
    {
        using var host = new FakeHost(daemonName: "virtqemud");
        host.InstallHook(Hook);
        var checks = host.Run();
        Single(checks, CheckStatus.Ok, $"libvirt 9.0.0 (virtqemud (pid {FakeHost.Pid}) /usr/sbin/virtqemud)");
        Single(checks, CheckStatus.Ok, $"is libvirt-shim, executable (as virtqemud (pid {FakeHost.Pid}) sees it)");
        Single(checks, CheckStatus.Warn, $"virtqemud (pid {FakeHost.Pid}) started by");
        Assert.DoesNotContain(checks, c => c.Detail.Contains("libvirtd", StringComparison.Ordinal));
    }

    [Fact]
    public void QemuDBesideAForeignHookNeedsLibvirt65()
    {
        using var host = new FakeHost(libvirtVersion: "6000.0");
        FakeBinaries.ForeignHook(host.RootPath("/etc/libvirt/hooks/qemu"));
        host.InstallHook("/etc/libvirt/hooks/qemu.d/libvirt-shim");
        var checks = host.Run();
        Single(checks, CheckStatus.Ok, "/etc/libvirt/hooks/qemu.d/libvirt-shim -> /usr/sbin/libvirt-shim is libvirt-shim, executable");
        Single(checks, CheckStatus.Fail, "libvirt 6.0.0 does not run hooks in qemu.d/ (6.5.0 does)");
        Single(checks, CheckStatus.Ok, "/etc/libvirt/hooks/qemu is another hook; libvirt runs it first");
    }

    [Fact]
    public void LibvirtOlderThan58Fails()
    {
        using var host = new FakeHost(libvirtVersion: "5007.0");
        host.InstallHook("/etc/libvirt/hooks/qemu");
        DoctorCheck check = Single(host.Run(), CheckStatus.Fail, "libvirt 5.7.0");
        Assert.Contains("upgrade libvirt to 5.8.0", check.Fix);
    }

    [Fact]
    public void TheHookInstalledTwiceOrNotExecutableFails()
    {
        using var host = new FakeHost();
        host.InstallHook("/etc/libvirt/hooks/qemu", "/etc/libvirt/hooks/qemu.d/libvirt-shim");
        Single(host.Run(), CheckStatus.Fail, "libvirt-shim is installed 2 times");

        File.SetUnixFileMode(host.RootPath("/usr/sbin/libvirt-shim"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        DoctorCheck check = host.Run().First(c => c.Detail.Contains("libvirt cannot run it", StringComparison.Ordinal));
        Assert.Equal("chmod 755 /usr/sbin/libvirt-shim", check.Fix);
    }

    [Fact]
    public void WithoutADaemonTheHooksOfTheRootAndTheInstalledLibraryAreChecked()
    {
        using var host = new FakeHost(daemon: false);
        host.InstallHook("/etc/libvirt/hooks/qemu");
        var checks = host.Run();
        Single(checks, CheckStatus.Warn, "neither libvirtd nor virtqemud is running");
        Single(checks, CheckStatus.Ok, "libvirt 9.0.0 (the installed libvirt library)");
        Single(checks, CheckStatus.Ok, "/etc/libvirt/hooks/qemu -> /usr/sbin/libvirt-shim is libvirt-shim, executable");
    }

    [Fact]
    public void AKernelWithoutMacvtapFailsUnlessAModuleIsThere()
    {
        using var host = new FakeHost(macvtap: false);
        DoctorCheck check = Single(host.Run(), CheckStatus.Fail, "no sign of macvtap support in kernel 6.1.0-test");
        Assert.Contains("modprobe macvtap", check.Fix);
        host.Write("rootfs/lib/modules/6.1.0-test/modules.dep", "kernel/drivers/net/macvtap.ko: kernel/drivers/net/tap.ko\n");
        Single(host.Run(), CheckStatus.Ok, "macvtap is a module of kernel 6.1.0-test");
    }

    [Fact]
    public void InvalidSettingsFailWithTheMessageAndStopTheChecksThatNeedThem()
    {
        using var host = new FakeHost();
        host.LoadSettings = () => throw SettingsLoader.Invalid("setting NamePrefix='macvtap' must not start with macvtap, macvlan or vnet");
        var checks = host.Run();
        DoctorCheck settings = Single(checks, CheckStatus.Fail, "setting NamePrefix='macvtap'");
        Assert.Contains("libvirt-shim.json", settings.Fix);
        Single(checks, CheckStatus.Warn, "not checked: the settings are not valid");
    }

    [Fact]
    public void LowerDevicesNamedBySettingsAndDefinitionsMustExist()
    {
        using var host = new FakeHost();
        host.Settings.Uplinks["eno1"] = "nosuchdev0";
        host.Settings.AllowedLowerDevices = ["lo"];
        host.Write("definitions/web.xml", """
            <domain type='kvm'><name>web</name><uuid>00000000-0000-4000-8000-000000000051</uuid>
              <metadata><shim:macvtap xmlns:shim="urn:libvirt-shim:macvtap:1">
                <shim:link mac='52:54:00:aa:51:01' network='physnet7' mode='bridge'/>
              </shim:macvtap></metadata>
              <devices><interface type='ethernet'><mac address='52:54:00:aa:51:01'/><target dev='mvtap1' managed='no'/></interface></devices>
            </domain>
            """);
        var checks = host.Run();
        DoctorCheck missing = Single(checks, CheckStatus.Fail, "nosuchdev0 (Uplinks[eno1]) does not exist on this host");
        Assert.Contains("Uplinks", missing.Fix);
        Single(checks, CheckStatus.Fail, "lo (AllowedLowerDevices) is the loopback device: guests using it do not start");
        DoctorCheck network = Single(checks, CheckStatus.Fail, "network 'physnet7' is not in this host's Networks setting");
        Assert.Equal("add 'physnet7' to the Networks setting", network.Fix);
    }

    [Fact]
    public void AStateThatDisagreesWithTheKernelFails()
    {
        using var host = new FakeHost();
        var scheme = new NameScheme(host.Settings.NamePrefix, host.Settings.Capacity);
        var state = new NameState(scheme);
        state.Put(new NameRecord("mvtap7", Holding.Created, Guid.Parse("00000000-0000-4000-8000-000000000061"), "gone", Ifindex: 999_999));
        using (StateLease lease = new StateStore(host.Settings.StateDir, TimeSpan.FromSeconds(5)).LockToChange()) lease.Save(state);

        DoctorCheck check = Single(host.Run(), CheckStatus.Fail, "1 disagreement(s) between the state and the kernel: mvtap7: missing link");
        Assert.Contains("libvirt-shim status", check.Fix);
    }

    [Fact]
    public void AHookLinkHoldingAHostAddressFails()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin",
            TestDomains.Owned("web", TestDomains.Uuid(62), [new("52:54:00:aa:62:01", "mvtap1")])).ExitCode);
        h.Ns.Ip("addr", "add", "192.0.2.9/24", "dev", "uplink0");   // a host address on a link that is not the hook's
        using var host = new FakeHost();
        DoctorHost doctor = host.Host with { OpenLinks = h.Ns.OpenLinkTable, LoadSettings = () => h.Settings };

        Single(DoctorChecks.Run(doctor), CheckStatus.Ok, "no link libvirt-shim made holds a host address");

        h.Ns.Ip("addr", "add", "192.0.2.7/24", "dev", "mvtap1");
        h.Ns.Ip("addr", "add", "2001:db8::7/64", "dev", "mvtap1", "nodad");
        DoctorCheck check = Single(DoctorChecks.Run(doctor), CheckStatus.Fail,
            "1 link(s) libvirt-shim made hold a host address, so the host may send with the guest's MAC: mvtap1 (");
        Assert.Contains("192.0.2.7/24", check.Detail);
        Assert.Contains("2001:db8::7/64", check.Detail);
        Assert.DoesNotContain("192.0.2.9", check.Detail);
        Assert.Contains("'ip addr flush dev mvtap1'", check.Fix);
    }

    /// <summary>Guards in use (the Guard setting): the doctor reads the netdev tables; not in use, it opens nothing.</summary>
    [Fact]
    public void TheGuardsAreCheckedWhenInUse()
    {
        using var h = HookHarness.Create();
        using var host = new FakeHost();
        DoctorHost doctor = host.Host with
        {
            OpenLinks = h.Ns.OpenLinkTable,
            LoadSettings = () => h.Settings,
            OpenGuards = () => throw new InvalidOperationException("opened though no guard is in use"),
        };
        Single(DoctorChecks.Run(doctor), CheckStatus.Ok, "not in use (Guard is off and no definition has guard=)");

        h.Settings.Guard = "mac";
        Single(DoctorChecks.Run(doctor with { OpenGuards = h.Ns.OpenGuardTables }), CheckStatus.Ok, "nftables netdev tables readable");
        DoctorCheck failing = Single(DoctorChecks.Run(doctor with
        {
            OpenGuards = () => throw Messages.ShimFailure.WithoutDomain("netlink socket(AF_NETLINK) failed: Protocol not supported"),
        }), CheckStatus.Fail, "nftables cannot be read here: netlink socket(AF_NETLINK) failed");
        Assert.Contains("modprobe nf_tables", failing.Fix);
    }

    [Fact]
    public void JsonForTools()
    {
        using var host = new FakeHost();
        var output = new StringWriter();
        int exit = DoctorCommand.Run(host.Host, json: true, output);
        using JsonDocument doc = JsonDocument.Parse(output.ToString());
        Assert.Equal(exit == 0, doc.RootElement.GetProperty("passed").GetBoolean());
        Assert.Contains(doc.RootElement.GetProperty("checks").EnumerateArray(),
            c => c.GetProperty("status").GetString() == "fail" && c.GetProperty("area").GetString() == "hook"
                && c.GetProperty("fix").GetString()!.Length > 0);
    }

    [Theory]
    [InlineData("libvirt.so.0.9000.0", "9.0.0")]
    [InlineData("libvirt.so.0.6005.0", "6.5.0")]
    [InlineData("libvirt.so.0.11003.2", "11.3.2")]
    public void TheVersionComesFromTheLibrarysName(string file, string version) =>
        Assert.Equal(version, LibvirtVersion.FromLibraryName(file)?.ToString());

    /// <summary>The real command on this machine, settings in a temporary tree: a checklist, and the exit status it promises.</summary>
    [Fact]
    public void TheCommandRunsOnThisHost()
    {
        using var t = new TempTree();
        var env = new Dictionary<string, string> { ["LIBVIRT_SHIM_CONFIG"] = t.Write("libvirt-shim.json", "{}") };
        string[] overrides = ["--", $"--StateDir={t.Path("state")}", $"--LogFile={t.Path("shim.log")}",
            $"--LibvirtConfigDir={t.Path("etc")}", $"--LibvirtRunDir={t.Path("run")}"];
        ProcessResult json = Run.Shim(["doctor", "--json", .. overrides], env: env);
        using JsonDocument doc = JsonDocument.Parse(json.Stdout);
        bool passed = doc.RootElement.GetProperty("passed").GetBoolean();
        Assert.Equal(passed ? 0 : 1, json.ExitCode);
        Assert.Contains(doc.RootElement.GetProperty("checks").EnumerateArray(), c => c.GetProperty("area").GetString() == "kernel macvtap");

        ProcessResult text = Run.Shim(["doctor", .. overrides], env: env);
        Assert.Equal(json.ExitCode, text.ExitCode);
        Assert.StartsWith("libvirt-shim ", text.Stdout);
        Assert.Contains(passed ? "all checks passed" : "failed", text.Stdout);
        Assert.All(text.Stdout.Split('\n').Where(l => l.TrimStart().StartsWith("FAIL", StringComparison.Ordinal)),
            l => Assert.Contains("fix: ", text.Stdout[text.Stdout.IndexOf(l, StringComparison.Ordinal)..]));
    }
}
