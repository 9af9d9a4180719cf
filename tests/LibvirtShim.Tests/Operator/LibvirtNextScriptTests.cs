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

    /// <summary>
    /// The mirror the tree is built from is the host's apt's: the first source of binary packages of a Debian release
    /// (not -security or -updates, not a disabled or deb-src entry), one-line or deb822, in apt's order; apt's proxy
    /// with it; LIBVIRT_NEXT_MIRROR overrides; none found is one line saying what to set. The apt configuration is a
    /// sample tree, named to apt-config through APT_CONFIG (Dir::Etc).
    /// </summary>
    [Theory]
    [InlineData("sources.list", "deb-src http://src.example/debian bookworm main\n"
        + "deb [signed-by=/usr/share/keyrings/x.gpg arch=amd64] http://security.example/debian-security bookworm-security main\n"
        + "# deb http://commented.example/debian bookworm main\n"
        + "deb [ arch=amd64 ] http://mirror.example/debian/ bookworm main contrib\n", "", "http://mirror.example/debian")]
    [InlineData("sources.list.d/a.sources", "Types: deb\nURIs: http://disabled.example/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n\n"
        + "# the security archive\nTypes: deb\nURIs: http://deb.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        + "Types: deb-src deb\nURIs: https://local.example/debian\n http://second.example/debian\nSuites: bookworm\n bookworm-updates\n"
        + "Components: main\n", "http://proxy.example:3128/", "https://local.example/debian")]
    [InlineData("sources.list.d/z.list", "deb file:/srv/mirror/debian bookworm main\n", "DIRECT", "file:/srv/mirror/debian")]
    public void TheMirrorIsReadFromTheHostsAptSourcesWithItsProxy(string file, string content, string proxy, string mirror)
    {
        Requires.Root();
        using var t = new TempTree("shim-next-");
        var env = AptConfig(t, proxy);
        t.Write($"etc/apt/{file}", content);

        ProcessResult found = NextWith(t, env, "mirror");

        Assert.True(found.ExitCode == 0, found.ToString());
        Assert.Contains($"libvirt-next: mirror {mirror} (from {t.Path("etc/apt/" + file)})", found.Stdout);
        Assert.Contains($"libvirt-next: proxy {(proxy is "" or "DIRECT" ? "none" : proxy)}", found.Stdout);
    }

    [Fact]
    public void WithoutAMirrorInTheAptSourcesItSaysWhatToSetAndTheVariableOverrides()
    {
        Requires.Root();
        using var t = new TempTree("shim-next-");
        var env = AptConfig(t, "");
        t.Write("etc/apt/sources.list.d/security.sources", "Types: deb\nURIs: http://deb.example/debian-security\nSuites: bookworm-security\n");

        ProcessResult none = NextWith(t, env, "mirror");
        env["LIBVIRT_NEXT_MIRROR"] = "http://override.example/debian";
        ProcessResult overridden = NextWith(t, env, "mirror");

        Assert.Equal(1, none.ExitCode);
        Assert.Contains("no Debian mirror in the host's apt sources", none.Stderr);
        Assert.Contains("set LIBVIRT_NEXT_MIRROR, e.g. LIBVIRT_NEXT_MIRROR=http://deb.debian.org/debian", none.Stderr);
        Assert.True(overridden.ExitCode == 0, overridden.ToString());
        Assert.Contains("libvirt-next: mirror http://override.example/debian (from LIBVIRT_NEXT_MIRROR)", overridden.Stdout);
    }

    /// <summary>An apt configuration of its own under the temporary tree: Dir::Etc there, the proxy given (empty: none).</summary>
    private static Dictionary<string, string> AptConfig(TempTree t, string proxy)
    {
        Directory.CreateDirectory(t.Path("etc/apt/apt.conf.d"));
        Directory.CreateDirectory(t.Path("etc/apt/sources.list.d"));
        string conf = t.Write("apt.conf", $"Dir::Etc \"{t.Path("etc/apt")}/\";\nAcquire::http::Proxy \"{proxy}\";\n");
        return new Dictionary<string, string> { ["LIBVIRT_NEXT_TREE"] = t.Path("tree"), ["APT_CONFIG"] = conf };
    }

    private static ProcessResult NextWith(TempTree t, Dictionary<string, string> env, params string[] args) =>
        Run.Process("bash", [Path.Combine(SampleFiles.RepositoryRoot, "scripts/libvirt-next.sh"), .. args], env: env);
}
