using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>
/// scripts/libvirt-next.sh (a Debian 13 tree with libvirt 11.3 beside the host's libvirt) where no tree has been built:
/// it says so, changes nothing and stops nothing. The daemon itself is exercised by the end-to-end suite.
/// </summary>
public class LibvirtNextScriptTests
{
    private static ProcessResult Next(TempTree t, params string[] args) =>
        Run.Process("bash", [Path.Combine(SampleFiles.RepositoryRoot, "scripts/libvirt-next.sh"), .. args],
            env: new Dictionary<string, string> { ["LIBVIRT_NEXT_TREE"] = t.Path("tree"), ["LIBVIRT_NEXT_PORT"] = "16599" });

    [Fact]
    public void WithoutATreeItSaysSoAndTouchesNothing()
    {
        Requires.Root();
        using var t = new TempTree("shim-next-");

        ProcessResult status = Next(t, "status");
        ProcessResult hook = Next(t, "install-hook");
        ProcessResult stop = Next(t, "stop");

        Assert.Equal(3, status.ExitCode);
        Assert.Contains($"no tree at {t.Path("tree")}", status.Stdout);
        Assert.Contains("nothing answers on qemu+tcp://127.0.0.1:16599/system", status.Stdout);
        Assert.Equal(1, hook.ExitCode);
        Assert.Contains("run", hook.Stderr);
        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.DoesNotContain("stopped", stop.Stdout);
        Assert.Empty(Directory.EnumerateFileSystemEntries(t.Root));
    }

    [Fact]
    public void ItNamesItsUriAndRefusesARelativeTree()
    {
        Requires.Root();
        using var t = new TempTree("shim-next-");
        Assert.Equal("qemu+tcp://127.0.0.1:16599/system", Next(t, "uri").Stdout.Trim());
        ProcessResult relative = Run.Process("bash", [Path.Combine(SampleFiles.RepositoryRoot, "scripts/libvirt-next.sh"), "status"],
            env: new Dictionary<string, string> { ["LIBVIRT_NEXT_TREE"] = "relative/tree" });
        Assert.Equal(1, relative.ExitCode);
        Assert.Contains("must be an absolute path", relative.Stderr);
        Assert.Contains("install-hook", Next(t, "--help").Stdout);
    }
}
