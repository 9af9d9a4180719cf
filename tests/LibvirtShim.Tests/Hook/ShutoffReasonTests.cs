using System.Text.Json;
using LibvirtShim.Hook;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Hook;

/// <summary>
/// The shutoff reason libvirt 10.5+ passes to <c>release end</c> as EXTRA: "-" (none, or before 10.5), one word, or
/// "from snapshot" as one argument. Logged with every release, the last one per domain kept for status.
/// </summary>
public class ShutoffReasonTests
{
    private static readonly Guid Web = TestDomains.Uuid(61);
    private static string Xml => TestDomains.Owned("web", Web, TestDomains.Nics(61, 2, firstName: 0));

    public static TheoryData<string, string> Forms => new()
    {
        { "-", "none given" },
        { "destroyed", "destroyed" },
        { "shutdown", "shutdown" },
        { "saved", "saved" },
        { "migrated", "migrated" },
        { "crashed", "crashed" },
        { "failed", "failed" },
        { "daemon", "daemon" },
        { "unknown", "unknown" },
        { "from snapshot", "from snapshot" },
        { "a-word-of-libvirt-12", "a-word-of-libvirt-12" },
    };

    [Theory]
    [InlineData(new[] { "web", "release", "end", "destroyed" }, "destroyed")]
    [InlineData(new[] { "web", "release", "end", "from snapshot" }, "from snapshot")]
    [InlineData(new[] { "web", "release", "end", "from", "snapshot" }, "from snapshot")]
    [InlineData(new[] { "web", "release", "end", "-" }, "-")]
    [InlineData(new[] { "web", "release", "end", "" }, "-")]
    [InlineData(new[] { "web", "release", "end" }, "-")]
    [InlineData(new[] { "web", "release" }, "-")]
    public void EveryFormOfExtraIsAccepted(string[] argv, string extra)
    {
        HookCall call = HookCall.Parse(argv)!;
        Assert.Equal(("web", "release", extra), (call.Domain, call.Operation, call.Extra));
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void EachReleaseLogsTheReasonAndStatusShowsTheLastOne(string extra, string logged)
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);

        HookResult release = h.Run("web", "release", "end", Xml, extra);

        Assert.Equal((0, ""), (release.ExitCode, release.Stderr));
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
        string line = Assert.Single(File.ReadAllLines(h.Settings.LogFile), l => l.Contains("[INF] release web", StringComparison.Ordinal));
        Assert.EndsWith($"deleted 2 macvtaps, released 2 records; shutoff reason: {logged}", line);
        ReleaseEntry last = Assert.Single(StateLeases.Releases(h.Settings.StateDir));
        Assert.Equal((Web, "web", extra), (last.Uuid, last.Domain, last.Reason));
    }

    [Fact]
    public void AFailingReleaseStillLogsItsReason()
    {
        using var h = HookHarness.Create();
        h.Settings.LockTimeoutSeconds = 1;
        var store = new LibvirtShim.State.StateStore(h.Settings.StateDir, TimeSpan.FromSeconds(1));
        using (store.LockToChange())
        {
            HookResult release = h.Run("web", "release", "end", Xml, "crashed");
            Assert.Equal(1, release.ExitCode);
        }
        string line = Assert.Single(File.ReadAllLines(h.Settings.LogFile), l => l.Contains("[ERR] release web", StringComparison.Ordinal));
        Assert.Contains("timed out after 1 s waiting for the state lock", line);
        Assert.EndsWith("; shutoff reason: crashed", line);
    }

    [Fact]
    public void AReasonWithControlCharactersStaysOneLineInTheLogAndTheHistory()
    {
        using var h = HookHarness.Create();
        HookResult release = h.Run("web", "release", "end", Xml, "evil\nINF forged\tline");

        Assert.Equal(0, release.ExitCode);
        string[] log = File.ReadAllLines(h.Settings.LogFile);
        Assert.DoesNotContain(log, l => l.StartsWith("INF forged", StringComparison.Ordinal));
        Assert.Contains(log, l => l.EndsWith(@"shutoff reason: evil\x0aINF forged\x09line", StringComparison.Ordinal));
        Assert.Single(File.ReadAllLines(StateLeases.PathOf(h.Settings.StateDir, StateFile.Releases)), l => l.Length > 0);
        Assert.Equal("evil\nINF forged\tline", Assert.Single(StateLeases.Releases(h.Settings.StateDir)).Reason);
    }

    [Fact]
    public void AReleaseOfADomainTheHookNeverSawIsRecordedByName()
    {
        using var h = HookHarness.Create();
        HookResult release = h.Run("plain", "release", "end", "<domain><name>plain</name></domain>", "shutdown");
        Assert.Equal(0, release.ExitCode);
        ReleaseEntry last = Assert.Single(StateLeases.Releases(h.Settings.StateDir));
        Assert.Equal((null, "plain", "shutdown"), (last.Uuid, last.Domain, last.Reason));
    }

    /// <summary>The hook executable as libvirt runs it: named qemu, EXTRA one argument even with a space in it.</summary>
    [Theory]
    [InlineData("-")]
    [InlineData("destroyed")]
    [InlineData("from snapshot")]
    public void TheHookProcessTakesEveryFormAndStatusShowsIt(string extra)
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);

        HookResult release = RunAsLibvirtDoes(h, ["web", "release", "end", extra], Xml);

        Assert.True(release.ExitCode == 0, release.Stderr);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
        HookResult status = HookHarness.Finish(h.StartProcess("status"), "");
        Assert.True(status.ExitCode == 0, status.Stdout + status.Stderr);
        Assert.Contains("last release per domain, newest first", status.Stdout);
        string row = status.Stdout.Split('\n').Single(l => l.TrimStart().StartsWith("web ", StringComparison.Ordinal));
        Assert.Contains(Web.ToString("N")[..8], row);
        Assert.EndsWith(" " + extra, row);

        HookResult json = HookHarness.Finish(h.StartProcess("status", "--json"), "");
        using JsonDocument doc = JsonDocument.Parse(json.Stdout);
        JsonElement entry = Assert.Single(doc.RootElement.GetProperty("lastReleases").EnumerateArray());
        Assert.Equal(("web", Web.ToString("D")), (entry.GetProperty("domain").GetString(), entry.GetProperty("uuid").GetString()));
        Assert.Equal(extra == "-" ? null : extra, entry.GetProperty("reason").GetString());
        Assert.True(DateTimeOffset.Parse(entry.GetProperty("at").GetString()!,
            System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddMinutes(-5));
    }

    /// <summary>
    /// With the NativeAOT artifact: a symlink named qemu to it, run with exactly these arguments (HookEntry). Without it,
    /// the JIT build's hook verb, which passes its arguments the same way.
    /// </summary>
    private static HookResult RunAsLibvirtDoes(HookHarness h, string[] args, string xml)
    {
        if (HookExecutable.FreshArtifact is not { } artifact) return HookHarness.Finish(h.StartProcess(["hook", .. args]), xml);
        string qemu = Path.Combine(Directory.CreateDirectory(Path.Combine(h.Root, "hooks")).FullName, "qemu");
        if (!File.Exists(qemu)) File.CreateSymbolicLink(qemu, artifact);
        return HookHarness.Finish(h.StartExecutable(qemu, args), xml);
    }
}
