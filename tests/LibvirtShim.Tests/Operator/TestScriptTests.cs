using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>
/// ./test.sh on a fresh machine: as root it sets up libvirt (scripts/libvirt-up.sh) and the Debian 13 tree
/// (scripts/libvirt-next.sh build) whether or not virsh is there yet and whether or not SHIM_TEST_CI is set, and runs the
/// end-to-end tests a second time against libvirt-next. Run on a copy whose scripts, build.sh and dotnet only note that
/// they ran (dotnet with SHIM_E2E_DAEMON), with a PATH that has no virsh.
/// </summary>
public class TestScriptTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("1")]
    public void AsRootItSetsUpLibvirtEvenWithoutVirsh(string? ci)
    {
        Requires.Root();
        using var t = new TempTree("shim-testsh-");
        string log = t.Path("ran");
        File.Copy(Path.Combine(SampleFiles.RepositoryRoot, "test.sh"), t.Path("test.sh"));
        File.SetUnixFileMode(t.Path("test.sh"), FakeBinaries.Executable);
        string note(string what) => $"#!/bin/sh\necho \"{what} $*\" >> {log}\n";
        t.Write("scripts/libvirt-up.sh", note("libvirt-up"), FakeBinaries.Executable);
        t.Write("scripts/libvirt-next.sh", note("libvirt-next"), FakeBinaries.Executable);
        t.Write("build.sh", note("build"), FakeBinaries.Executable);
        t.Write("bin/dotnet", $"#!/bin/sh\necho \"dotnet $* [${{SHIM_E2E_DAEMON:-host}}]\" >> {log}\n", FakeBinaries.Executable);
        foreach (string tool in new[] { "bash", "env", "id", "dirname", "sh" })
            File.CreateSymbolicLink(t.Path("bin/" + tool), Tool.Run("sh", "-c", $"command -v {tool}").Trim());
        var env = new Dictionary<string, string> { ["PATH"] = t.Path("bin") };
        if (ci is not null) env["SHIM_TEST_CI"] = ci;

        ProcessResult r = Run.Process(t.Path("test.sh"), [], env: env);

        Assert.True(r.ExitCode == 0, r.ToString());
        string[] ran = File.ReadAllLines(log);
        Assert.Equal("libvirt-up ", ran[0]);
        Assert.Equal("libvirt-next build", ran[1]);
        Assert.Contains(ran, l => l.StartsWith("dotnet test --solution", StringComparison.Ordinal) && l.EndsWith("[host]", StringComparison.Ordinal));
        Assert.Contains(ran, l => l.StartsWith("dotnet test --project tests/LibvirtShim.EndToEnd", StringComparison.Ordinal)
            && l.EndsWith("[next]", StringComparison.Ordinal));
    }
}
