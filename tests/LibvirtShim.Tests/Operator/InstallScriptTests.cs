using System.Diagnostics;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>hooks/install.sh and hooks/uninstall.sh, run into temporary trees (--root): never the real /etc/libvirt.</summary>
public class InstallScriptTests
{
    private const string Exe = "/usr/local/sbin/libvirt-shim";

    private static ProcessResult Install(TempTree t, string binary, params string[] args) =>
        Run.Script("hooks/install.sh", ["--root", t.Root, "--binary", binary, .. args]);

    private static ProcessResult Uninstall(TempTree t, params string[] args) => Run.Script("hooks/uninstall.sh", ["--root", t.Root, .. args]);

    private static string Binary(TempTree bin) => FakeBinaries.Shim(bin.Path("build/libvirt-shim"));

    [Fact]
    public void AFreshInstallPutsTheExecutableTheHookAndTheSettingsInPlace()
    {
        using var t = new TempTree();
        using var bin = new TempTree();
        ProcessResult r = Install(t, Binary(bin));

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(File.Exists(t.Path(Exe)));
        Assert.Equal(Exe, new FileInfo(t.Path("/etc/libvirt/hooks/qemu")).LinkTarget);
        Assert.Equal(File.ReadAllText(Path.Combine(SampleFiles.RepositoryRoot, "hooks/libvirt-shim.json")),
            File.ReadAllText(t.Path("/etc/libvirt/libvirt-shim.json")));
        Assert.Contains("installed the hook", r.Stdout);
        Assert.Contains("libvirtd notices a new hook only when it starts or gets SIGHUP", r.Stdout);
        Assert.Contains("doctor", r.Stdout);
    }

    /// <summary>
    /// Into a tree whose system has systemd: the listener's unit, running the installed executable, ordered after either daemon
    /// and requiring neither, restarted on failure; listed for uninstall.sh, which removes it. Without systemd there, or with
    /// --no-watch, no unit and a line saying how to run the listener.
    /// </summary>
    [Fact]
    public void TheListenersUnitGoesIntoATreeWithSystemdAndOutWithUninstall()
    {
        using var t = new TempTree();
        using var bin = new TempTree();
        Directory.CreateDirectory(t.Path("/usr/lib/systemd/system"));
        List<string> before = t.Listing();

        ProcessResult r = Install(t, Binary(bin));

        Assert.True(r.ExitCode == 0, r.ToString());
        string unit = File.ReadAllText(t.Path("/etc/systemd/system/libvirt-shim-watch.service"));
        Assert.Contains($"ExecStart={Exe} watch\n", unit);
        Assert.Contains("Restart=on-failure\n", unit);
        Assert.Contains("After=libvirtd.service virtqemud.service\n", unit);
        Assert.DoesNotContain("Requires=", unit);
        Assert.DoesNotContain("BindsTo=", unit);
        Assert.Contains("WantedBy=multi-user.target", unit);
        Assert.Contains("installed the listener", r.Stdout);
        Assert.Contains("systemctl enable --now libvirt-shim-watch.service", r.Stdout);
        Assert.Contains("unit:" + t.Path("/etc/systemd/system/libvirt-shim-watch.service"),
            File.ReadAllText(t.Path("/usr/local/lib/libvirt-shim/installed")));

        ProcessResult u = Uninstall(t);
        Assert.True(u.ExitCode == 0, u.ToString());
        Assert.Contains("removed the listener's unit", u.Stdout);
        Assert.Equal(before, t.Listing());
    }

    [Theory]
    [InlineData(false, "the listener was not started (a tree without systemd)")]
    [InlineData(true, "the listener was not installed (--no-watch)")]
    public void WithoutSystemdInTheTreeOrWithNoWatchNoListenerIsInstalled(bool noWatch, string said)
    {
        using var t = new TempTree();
        using var bin = new TempTree();
        if (noWatch) Directory.CreateDirectory(t.Path("/usr/lib/systemd/system"));

        ProcessResult r = noWatch ? Install(t, Binary(bin), "--no-watch") : Install(t, Binary(bin));

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains(said, r.Stdout);
        Assert.False(File.Exists(t.Path("/etc/systemd/system/libvirt-shim-watch.service")));
        Assert.DoesNotContain("watch:", File.ReadAllText(t.Path("/usr/local/lib/libvirt-shim/installed")));
    }

    [Fact]
    public void UninstallRemovesExactlyWhatInstallAdded()
    {
        using var t = new TempTree();
        using var bin = new TempTree();
        t.Write("/etc/libvirt/qemu.conf", "# libvirt's own\n");
        t.Write("/usr/local/sbin/other-tool", "#!/bin/sh\n");
        List<string> before = t.Listing();

        Assert.Equal(0, Install(t, Binary(bin)).ExitCode);
        Assert.NotEqual(before, t.Listing());
        ProcessResult r = Uninstall(t);

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(before, t.Listing());
    }

    [Fact]
    public void AForeignHookIsNeverOverwrittenTheShimGoesIntoQemuD()
    {
        using var t = new TempTree();
        using var bin = new TempTree();
        string foreign = FakeBinaries.ForeignHook(t.Path("/etc/libvirt/hooks/qemu"));
        string content = File.ReadAllText(foreign);

        ProcessResult r = Install(t, Binary(bin));

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(content, File.ReadAllText(foreign));
        Assert.Null(new FileInfo(foreign).LinkTarget);
        Assert.Equal(Exe, new FileInfo(t.Path("/etc/libvirt/hooks/qemu.d/libvirt-shim")).LinkTarget);
        Assert.Contains("is another program's hook: left alone", r.Stdout);

        Assert.Equal(0, Uninstall(t).ExitCode);
        Assert.Equal(content, File.ReadAllText(foreign));
        Assert.False(Directory.Exists(t.Path("/etc/libvirt/hooks/qemu.d")));
    }

    [Fact]
    public void AForeignFileInQemuDUnderTheShimsNameStopsTheInstall()
    {
        using var t = new TempTree();
        using var bin = new TempTree();
        FakeBinaries.ForeignHook(t.Path("/etc/libvirt/hooks/qemu"));
        string taken = FakeBinaries.ForeignHook(t.Path("/etc/libvirt/hooks/qemu.d/libvirt-shim"), "a different program of the same name");
        List<string> before = t.Listing();

        ProcessResult r = Install(t, Binary(bin));

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("exists and is not libvirt-shim: left alone, and nothing was installed", r.Stderr);
        Assert.Equal(before, t.Listing());
        Assert.Contains("a different program of the same name", File.ReadAllText(taken));
        Assert.Null(new FileInfo(taken).LinkTarget);
    }

    [Fact]
    public void RunningItAgainUpgradesKeepsChangedSettingsAndListsEachFileOnce()
    {
        using var t = new TempTree();
        using var bin = new TempTree();
        string binary = Binary(bin);
        Assert.Equal(0, Install(t, binary).ExitCode);
        File.WriteAllText(t.Path("/etc/libvirt/libvirt-shim.json"), "{ \"LogLevel\": \"Debug\" }\n");
        File.AppendAllText(binary, "a newer build\n");

        ProcessResult again = Install(t, binary);

        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("kept existing settings", again.Stdout);
        Assert.Contains("a newer build", File.ReadAllText(t.Path(Exe)));
        string[] manifest = File.ReadAllLines(t.Path("/usr/local/lib/libvirt-shim/installed"));
        Assert.Equal(manifest.Length, manifest.Distinct().Count());

        ProcessResult removed = Uninstall(t);
        Assert.Contains("it was changed since install", removed.Stdout);
        Assert.Equal("{ \"LogLevel\": \"Debug\" }\n", File.ReadAllText(t.Path("/etc/libvirt/libvirt-shim.json")));
        Assert.False(File.Exists(t.Path(Exe)));
    }

    [Fact]
    public void SwitchingToQemuDRemovesTheEarlierHookSoItNeverRunsTwice()
    {
        using var t = new TempTree();
        using var bin = new TempTree();
        string binary = Binary(bin);
        Assert.Equal(0, Install(t, binary).ExitCode);

        ProcessResult r = Install(t, binary, "--qemu.d");

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.False(File.Exists(t.Path("/etc/libvirt/hooks/qemu")) || new FileInfo(t.Path("/etc/libvirt/hooks/qemu")).LinkTarget is not null);
        Assert.Equal(Exe, new FileInfo(t.Path("/etc/libvirt/hooks/qemu.d/libvirt-shim")).LinkTarget);
        Assert.Contains("removed the earlier hook", r.Stdout);
        Assert.Equal(0, Uninstall(t).ExitCode);
        Assert.Empty(t.Listing());
    }

    [Fact]
    public void UninstallLeavesAHookThatIsNoLongerTheShims()
    {
        using var t = new TempTree();
        using var bin = new TempTree();
        Assert.Equal(0, Install(t, Binary(bin)).ExitCode);
        string hook = t.Path("/etc/libvirt/hooks/qemu");
        File.Delete(hook);
        FakeBinaries.ForeignHook(hook, "put there after the install");

        ProcessResult r = Uninstall(t);

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("left", r.Stdout);
        Assert.Contains("put there after the install", File.ReadAllText(hook));
    }

    /// <summary>dpkg's status file with libvirt-shim in <paramref name="status"/> ("install ok installed", ...) between two other packages.</summary>
    private static void DpkgStatus(TempTree t, string status) => t.Write("/var/lib/dpkg/status", $"""
        Package: libvirt-shim-doc
        Status: install ok installed
        Version: 0.1.0

        Package: libvirt-shim
        Status: {status}
        Priority: optional
        Version: 0.1.0

        Package: zlib1g
        Status: install ok installed
        Version: 1:1.2.13

        """);

    [Theory]
    [InlineData("install ok installed", "installed")]
    [InlineData("install reinstreq half-installed", "half-installed")]
    [InlineData("install ok unpacked", "unpacked")]
    public void InstallRefusesWhenTheDebianPackageIsInstalled(string status, string state)
    {
        using var t = new TempTree();
        using var bin = new TempTree();
        DpkgStatus(t, status);
        t.Write("/var/lib/dpkg/info/libvirt-shim.list", "/usr/sbin/libvirt-shim\n");

        ProcessResult r = Install(t, Binary(bin));

        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"the Debian package libvirt-shim is installed here (dpkg: {state})", r.Stderr);
        Assert.False(File.Exists(t.Path(Exe)));
    }

    /// <summary>After 'apt-get remove' (not purge) dpkg keeps the package as config-files: install.sh goes ahead and keeps its settings.</summary>
    [Theory]
    [InlineData("deinstall ok config-files", true)]
    [InlineData("purge ok not-installed", false)]
    public void ARemovedButNotPurgedPackageIsGone(string status, bool settingsKept)
    {
        using var t = new TempTree();
        using var bin = new TempTree();
        DpkgStatus(t, status);
        t.Write("/var/lib/dpkg/info/libvirt-shim.list", "/etc/libvirt/libvirt-shim.json\n");
        if (settingsKept) t.Write("/etc/libvirt/libvirt-shim.json", "{ \"LogLevel\": \"Debug\" }\n");

        ProcessResult r = Install(t, Binary(bin));

        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(File.Exists(t.Path(Exe)));
        Assert.Equal(Exe, new FileInfo(t.Path("/etc/libvirt/hooks/qemu")).LinkTarget);
        Assert.Equal(settingsKept, r.Stdout.Contains("removed but not purged", StringComparison.Ordinal));
        if (settingsKept) Assert.Contains("Debug", File.ReadAllText(t.Path("/etc/libvirt/libvirt-shim.json")));
    }

    [Fact]
    public void InstallRefusesSomethingThatIsNotTheShim()
    {
        using var t = new TempTree();
        using var bin = new TempTree();
        string other = FakeBinaries.ForeignHook(bin.Path("libvirt-shim"));

        ProcessResult r = Install(t, other);

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("is not a libvirt-shim executable", r.Stderr);
    }

    [Fact]
    public void UninstallUnderstandsTheManifestOfEarlierVersions()
    {
        using var t = new TempTree();
        using var bin = new TempTree();
        Assert.Equal(0, Install(t, Binary(bin)).ExitCode);
        string manifest = t.Path("/usr/local/lib/libvirt-shim/installed");
        // The first install.sh wrote plain paths for files.
        File.WriteAllLines(manifest, File.ReadAllLines(manifest).Select(l =>
            l.StartsWith("dir:", StringComparison.Ordinal) ? l : l[(l.IndexOf(':') + 1)..].Split(' ')[0]));

        Assert.Equal(0, Uninstall(t).ExitCode);
        Assert.Empty(t.Listing());
    }

    [Fact]
    public void BothScriptsExplainThemselves()
    {
        Assert.Contains("--root DIR", Run.Script("hooks/install.sh", "--help").Stdout);
        Assert.Contains("--root DIR", Run.Script("hooks/uninstall.sh", "--help").Stdout);
        ProcessResult wrong = Run.Script("hooks/install.sh", "--bogus");
        Assert.Equal((2, true), (wrong.ExitCode, wrong.Stderr.Contains("unknown option --bogus")));
    }

    /// <summary>
    /// A libvirtd that reads the tree's etc/libvirt (a process named libvirtd in a mount namespace where the tree is
    /// bind-mounted over /etc/libvirt) gets SIGHUP from install and from uninstall, and the scripts say so; the
    /// machine's own libvirtd, which reads another /etc/libvirt, is not signalled.
    /// </summary>
    [Theory]
    [InlineData("libvirtd")]
    [InlineData("virtqemud")]
    public void ADaemonReadingThatConfigurationGetsSighupAndTheScriptsSaySo(string name)
    {
        Requires.Root();
        using var t = new TempTree();
        using var bin = new TempTree();
        Directory.CreateDirectory(t.Path("/etc/libvirt"));
        string marker = bin.Path("hup");
        string daemon = bin.Write(name,
            $"#!/bin/sh\ntrap 'kill $child 2>/dev/null; echo $$ >> {marker}; exit 0' HUP\ntrap 'kill $child 2>/dev/null; " +
                "exit 0' TERM\nsleep 300 & child=$!\nwait $child\n",
            FakeBinaries.Executable);
        int? realLibvirtd = File.Exists("/run/libvirtd.pid") && int.TryParse(File.ReadAllText("/run/libvirtd.pid").Trim(), out int p) ? p : null;

        foreach (string step in new[] { "install", "uninstall" })
        {
            File.Delete(marker);
            using Process fake = StartInMountNamespace(t.Path("/etc/libvirt"), daemon);
            int pid = WaitForChildNamed(fake.Id, name);
            ProcessResult r = step == "install" ? Install(t, Binary(bin), "--reload") : Uninstall(t, "--reload");

            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.True(fake.WaitForExit(10_000), "the fake libvirtd did not end: no SIGHUP");
            Assert.Equal(pid.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(marker).Trim());
            Assert.Contains($"sent SIGHUP to {name} (pid {pid})", r.Stdout);
            if (step == "install")
                Assert.Matches($@"^{pid} \d+\.\d{{9}}$", File.ReadAllLines(t.Path("/run/libvirt-shim/sighup")).Last());
            if (realLibvirtd is { } real) Assert.DoesNotContain($"(pid {real})",
                r.Stdout.Replace($"(pid {real}) reads another", "", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// In a PID namespace of its own (a /proc that shows no daemon at all) the scripts say that neither daemon runs;
    /// with daemons that read another /etc/libvirt only, they say none reads this one.
    /// </summary>
    [Fact]
    public void WithoutADaemonTheScriptsNameBothDaemons()
    {
        Requires.Root();
        using var t = new TempTree();
        using var bin = new TempTree();
        Directory.CreateDirectory(t.Path("/etc/libvirt"));
        string script = Path.Combine(SampleFiles.RepositoryRoot, "hooks/install.sh");

        ProcessResult alone = Run.Process("unshare",
            ["--pid", "--fork", "--mount", "--mount-proc", "bash", script, "--root", t.Root, "--binary", Binary(bin), "--reload"]);

        Assert.True(alone.ExitCode == 0, alone.ToString());
        Assert.Contains("neither libvirtd nor virtqemud is running: whichever starts looks for hooks then", alone.Stdout);
        Assert.DoesNotContain("sent SIGHUP", alone.Stdout);

        bool daemonsHere = Directory.EnumerateDirectories("/proc").Any(d =>
            File.Exists(Path.Combine(d, "comm")) && ReadOrEmpty(Path.Combine(d, "comm")).Trim() is "libvirtd" or "virtqemud");
        ProcessResult beside = Install(t, Binary(bin), "--reload");
        Assert.True(beside.ExitCode == 0, beside.ToString());
        if (daemonsHere) Assert.Contains($"no libvirtd or virtqemud that reads {t.Path("/etc/libvirt")} is running", beside.Stdout);
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>unshare a mount namespace, bind <paramref name="etc"/> over /etc/libvirt in it, and exec the daemon there.</summary>
    private static Process StartInMountNamespace(string etc, string daemon)
    {
        var start = new ProcessStartInfo("unshare") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "--mount", "--propagation", "private", "sh", "-c",
            "mkdir -p /etc/libvirt && mount --bind \"$1\" /etc/libvirt && exec \"$2\"", "sh", etc, daemon })
            start.ArgumentList.Add(a);
        return Process.Start(start)!;
    }

    /// <summary>The pid of the process named <paramref name="name"/>: <paramref name="pid"/> itself once it has exec'd.</summary>
    private static int WaitForChildNamed(int pid, string name)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            try
            {
                if (File.ReadAllText($"/proc/{pid}/comm").Trim() == name) return pid;
            }
            catch (IOException)
            {
            }
            Thread.Sleep(20);
        }
        throw new TimeoutException($"process {pid} never became {name}");
    }
}
