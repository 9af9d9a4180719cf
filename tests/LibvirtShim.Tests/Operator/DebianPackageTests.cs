using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>
/// The package ./build.sh makes (artifacts/libvirt-shim_VERSION_amd64.deb): its contents, its maintainer scripts run
/// into temporary trees (DPKG_ROOT), and a real apt-get install / remove / purge in a throwaway mount namespace over
/// the host's /etc, /usr and /var (packaging/test-deb.sh), which leaves the host's own installation alone.
/// </summary>
public class DebianPackageTests
{
    private static string Package()
    {
        string artifacts = Path.Combine(SampleFiles.RepositoryRoot, "artifacts");
        string? deb = Directory.Exists(artifacts)
            ? Directory.EnumerateFiles(artifacts, "libvirt-shim_*_amd64.deb").OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault()
            : null;
        if (deb is null || HookExecutable.FreshArtifact is null)
            Requires.Missing("no package built from this code: run ./build.sh (it makes artifacts/libvirt-shim_VERSION_amd64.deb)");
        return deb!;
    }

    private static string Version()
    {
        string csproj = File.ReadAllText(Path.Combine(SampleFiles.RepositoryRoot, "src/LibvirtShim/LibvirtShim.csproj"));
        int start = csproj.IndexOf("<Version>", StringComparison.Ordinal) + "<Version>".Length;
        return csproj[start..csproj.IndexOf("</Version>", start, StringComparison.Ordinal)];
    }

    [Fact]
    public void ThePackageHoldsTheExecutableTheSettingsAsAConffileAndNoHookFile()
    {
        string deb = Package();
        Assert.EndsWith($"libvirt-shim_{Version()}_amd64.deb", deb);
        string contents = Tool.Run("dpkg-deb", "-c", deb);
        Assert.Contains("./usr/sbin/libvirt-shim", contents);
        Assert.Contains("./etc/libvirt/libvirt-shim.json", contents);
        // The hook is made by postinst where it overwrites nobody's: a file in the package would replace a foreign one.
        Assert.DoesNotContain("hooks", contents);
        Assert.Equal("/etc/libvirt/libvirt-shim.json", Tool.Run("dpkg-deb", "-I", deb, "conffiles").Trim());
        string control = Tool.Run("dpkg-deb", "-I", deb, "control");
        Assert.Contains("Package: libvirt-shim", control);
        Assert.Contains($"Version: {Version()}", control);
        Assert.Contains("Architecture: amd64", control);
        Assert.Contains("Depends: libc6 (>= 2.", control);
        Assert.Contains("./lib/systemd/system/libvirt-shim-watch.service", contents);
        using var t = new TempTree();
        Tool.Run("dpkg-deb", "-x", deb, t.Root);
        string unit = File.ReadAllText(t.Path("/lib/systemd/system/libvirt-shim-watch.service"));
        Assert.Contains("ExecStart=/usr/sbin/libvirt-shim watch\n", unit);
        Assert.Contains("Restart=on-failure\n", unit);
        Assert.Contains("After=libvirtd.service virtqemud.service\n", unit);
        Assert.DoesNotContain("Requires=", unit);
        Assert.DoesNotContain("Homepage:", control);   // the project has no public home to name
    }

    /// <summary>Extracts the maintainer scripts (dpkg-deb -e) into a directory.</summary>
    private static string Scripts(TempTree t)
    {
        string dir = t.Path("DEBIAN");
        Tool.Run("dpkg-deb", "-e", Package(), dir);
        return dir;
    }

    private static ProcessResult Maintainer(string scripts, string script, TempTree root, params string[] args) =>
        Run.Process("sh", [Path.Combine(scripts, script), .. args], env: new Dictionary<string, string> { ["DPKG_ROOT"] = root.Root });

    [Fact]
    public void PostinstPutsTheHookInHooksQemuAndPostrmRemovesExactlyIt()
    {
        using var work = new TempTree();
        using var root = new TempTree();
        string scripts = Scripts(work);
        root.Write("/etc/libvirt/qemu.conf", "");
        Directory.CreateDirectory(root.Path("/var/lib"));
        List<string> before = root.Listing();

        ProcessResult configure = Maintainer(scripts, "postinst", root, "configure");

        Assert.True(configure.ExitCode == 0, configure.ToString());
        Assert.Equal("/usr/sbin/libvirt-shim", new FileInfo(root.Path("/etc/libvirt/hooks/qemu")).LinkTarget);
        Assert.Contains("installed the hook /etc/libvirt/hooks/qemu -> /usr/sbin/libvirt-shim", configure.Stdout);
        Assert.Contains("the listener is not started (it runs where the daemon runs)", configure.Stdout);

        ProcessResult again = Maintainer(scripts, "postinst", root, "configure", "0.0.1");
        Assert.Contains("is in place", again.Stdout);

        ProcessResult remove = Maintainer(scripts, "postrm", root, "remove");
        Assert.True(remove.ExitCode == 0, remove.ToString());
        Assert.Contains("removed the hook /etc/libvirt/hooks/qemu", remove.Stdout);
        Assert.Equal(before, root.Listing());
    }

    [Fact]
    public void PostinstNeverOverwritesAForeignHookItUsesQemuD()
    {
        using var work = new TempTree();
        using var root = new TempTree();
        string scripts = Scripts(work);
        string foreign = FakeBinaries.ForeignHook(root.Path("/etc/libvirt/hooks/qemu"));
        string content = File.ReadAllText(foreign);

        ProcessResult configure = Maintainer(scripts, "postinst", root, "configure");

        Assert.True(configure.ExitCode == 0, configure.ToString());
        Assert.Equal(content, File.ReadAllText(foreign));
        Assert.Equal("/usr/sbin/libvirt-shim", new FileInfo(root.Path("/etc/libvirt/hooks/qemu.d/libvirt-shim")).LinkTarget);
        Assert.Contains("is another program's hook: left alone", configure.Stdout);

        Assert.Equal(0, Maintainer(scripts, "postrm", root, "purge").ExitCode);
        Assert.Equal(content, File.ReadAllText(foreign));
        Assert.False(Directory.Exists(root.Path("/etc/libvirt/hooks/qemu.d")));
    }

    [Fact]
    public void PostrmLeavesAHookThatIsNoLongerThePackages()
    {
        using var work = new TempTree();
        using var root = new TempTree();
        string scripts = Scripts(work);
        Assert.Equal(0, Maintainer(scripts, "postinst", root, "configure").ExitCode);
        string hook = root.Path("/etc/libvirt/hooks/qemu");
        File.Delete(hook);
        FakeBinaries.ForeignHook(hook, "installed later by the admin");

        ProcessResult remove = Maintainer(scripts, "postrm", root, "remove");

        Assert.Equal(0, remove.ExitCode);
        Assert.Contains("left /etc/libvirt/hooks/qemu alone", remove.Stdout);
        Assert.Contains("installed later by the admin", File.ReadAllText(hook));
    }

    [Fact]
    public void PreinstRefusesToInstallOverAnInstallShInstallation()
    {
        using var work = new TempTree();
        using var root = new TempTree();
        string scripts = Scripts(work);
        root.Write("/usr/local/lib/libvirt-shim/installed", "exe:/usr/local/sbin/libvirt-shim\n");

        ProcessResult preinst = Maintainer(scripts, "preinst", root, "install");

        Assert.Equal(1, preinst.ExitCode);
        Assert.Contains("already installed by hooks/install.sh", preinst.Stderr);
        Assert.Equal(0, Maintainer(scripts, "postrm", root, "abort-install").ExitCode);
    }

    /// <summary>apt-get install ./deb, reinstall, remove, purge; beside a foreign hook; refused over install.sh's. See
    /// packaging/test-deb.sh.</summary>
    [Fact]
    public void AptInstallsAndRemovesThePackageCleanly()
    {
        Requires.Root();
        string deb = Package();
        ProcessResult r = Run.Process("bash", [Path.Combine(SampleFiles.RepositoryRoot, "packaging/test-deb.sh"), deb],
            timeout: TimeSpan.FromMinutes(10));
        if (r.ExitCode == 77) Requires.Missing($"packaging/test-deb.sh cannot run here: {r.Stderr.Trim()}");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("all package checks passed", r.Stdout);
    }
}
