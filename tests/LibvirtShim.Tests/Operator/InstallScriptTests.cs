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
        Assert.Equal(File.ReadAllText(Path.Combine(SampleFiles.RepositoryRoot, "hooks/libvirt-shim.json")), File.ReadAllText(t.Path("/etc/libvirt/libvirt-shim.json")));
        Assert.Contains("installed the hook", r.Stdout);
        Assert.Contains("libvirtd notices a new hook only when it starts or gets SIGHUP", r.Stdout);
        Assert.Contains("doctor", r.Stdout);
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

    [Fact]
    public void InstallRefusesWhenTheDebianPackageIsInstalled()
    {
        using var t = new TempTree();
        using var bin = new TempTree();
        t.Write("/var/lib/dpkg/info/libvirt-shim.list", "/usr/sbin/libvirt-shim\n");

        ProcessResult r = Install(t, Binary(bin));

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("Debian package libvirt-shim is installed", r.Stderr);
        Assert.False(File.Exists(t.Path(Exe)));
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
    [Fact]
    public void ALibvirtdReadingThatConfigurationGetsSighupAndTheScriptsSaySo()
    {
        Requires.Root();
        using var t = new TempTree();
        using var bin = new TempTree();
        Directory.CreateDirectory(t.Path("/etc/libvirt"));
        string marker = bin.Path("hup");
        string daemon = bin.Write("libvirtd",
            $"#!/bin/sh\ntrap 'kill $child 2>/dev/null; echo $$ >> {marker}; exit 0' HUP\ntrap 'kill $child 2>/dev/null; exit 0' TERM\nsleep 300 & child=$!\nwait $child\n",
            FakeBinaries.Executable);
        int? realLibvirtd = File.Exists("/run/libvirtd.pid") && int.TryParse(File.ReadAllText("/run/libvirtd.pid").Trim(), out int p) ? p : null;

        foreach (string step in new[] { "install", "uninstall" })
        {
            File.Delete(marker);
            using Process fake = StartInMountNamespace(t.Path("/etc/libvirt"), daemon);
            int pid = WaitForChildNamed(fake.Id, "libvirtd");
            ProcessResult r = step == "install" ? Install(t, Binary(bin), "--reload") : Uninstall(t, "--reload");

            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.True(fake.WaitForExit(10_000), "the fake libvirtd did not end: no SIGHUP");
            Assert.Equal(pid.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(marker).Trim());
            Assert.Contains($"sent SIGHUP to libvirtd (pid {pid})", r.Stdout);
            if (realLibvirtd is { } real) Assert.DoesNotContain($"(pid {real})", r.Stdout.Replace($"(pid {real}) reads another", "", StringComparison.Ordinal));
        }
    }

    /// <summary>unshare a mount namespace, bind <paramref name="etc"/> over /etc/libvirt in it, and exec the daemon there.</summary>
    private static Process StartInMountNamespace(string etc, string daemon)
    {
        var start = new ProcessStartInfo("unshare") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "--mount", "--propagation", "private", "sh", "-c", "mkdir -p /etc/libvirt && mount --bind \"$1\" /etc/libvirt && exec \"$2\"", "sh", etc, daemon })
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
