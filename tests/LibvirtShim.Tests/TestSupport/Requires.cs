using Xunit;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>Tests that need root (network namespaces) or libvirt skip on a developer machine without them, never in CI.</summary>
internal static class Requires
{
    /// <summary>Set by .ci/run: a missing prerequisite is a failure there, not a skip.</summary>
    public static bool InCi => Environment.GetEnvironmentVariable("SHIM_TEST_CI") == "1";

    public static void Root()
    {
        if (Environment.UserName == "root" || geteuid() == 0) return;
        Missing("needs root for network namespaces: run the tests as root (sudo ./test.sh)");
    }

    /// <summary>A program the test runs (strace, say), on the PATH.</summary>
    public static void Command(string name)
    {
        string[] path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        if (path.Any(d => File.Exists(Path.Combine(d, name)))) return;
        Missing($"needs {name} on the PATH (apt-get install {name})");
    }

    public static void Missing(string why)
    {
        if (InCi) Assert.Fail($"{why} (SHIM_TEST_CI=1: prerequisites are required in CI)");
        Assert.Skip(why);
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();
}
