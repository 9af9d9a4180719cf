using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Hook;

/// <summary>The hook calls libvirt 9.0 really made (Recordings/), replayed in order through the hook.</summary>
public class RecordedReplayTests
{
    private static IEnumerable<(string[] Argv, string Xml, string Step)> Steps(string recording) =>
        Directory.GetFiles(SampleFiles.Recording(recording), "*.argv").Order().Select(f =>
            (File.ReadAllText(f).Split(' ', StringSplitOptions.TrimEntries), File.ReadAllText(Path.ChangeExtension(f, ".xml")),
                Path.GetFileNameWithoutExtension(f)));

    [Fact]
    public void TheMixedGuestsLifecycleCreatesRecordsAndFreesEverything()
    {
        using var h = HookHarness.Create();
        var seen = new Dictionary<string, (HookResult Result, NameState? State, IReadOnlyList<IpLink> Links)>();
        foreach (var (argv, xml, step) in Steps("mixed01-lifecycle"))
        {
            HookResult result = h.Run(argv[1], argv[2], argv[3], xml);
            Assert.True(result.ExitCode == 0, $"{step}: {result.Stderr}");
            seen[step] = (result, h.ReadState(), h.Ns.Links());
        }

        IpLink mvtap7 = seen["01-mixed01-prepare-begin"].Links.Single(l => l.Name == "mvtap7");
        Assert.Equal(("52:54:00:aa:00:07", "uplink0", "bridge", true), (mvtap7.Address, mvtap7.Lower, mvtap7.Mode, mvtap7.IsUp));
        NameState started = seen["03-mixed01-started-begin"].State!;
        Assert.Equal(["macvtap385", "macvtap386", "mvtap7", "webfront0"], started.Records.Select(r => r.Name).Order());
        Assert.Equal(Holding.Libvirt, started.Find("webfront0")!.Holding);
        Assert.Equal(started.Records.OrderBy(r => r.Name), seen["04-mixed01-reconnect-begin"].State!.Records.OrderBy(r => r.Name));
        Assert.Empty(seen["06-mixed01-release-end"].State!.Records);
        Assert.DoesNotContain(seen["06-mixed01-release-end"].Links, l => l.Name == "mvtap7");
        Assert.Equal("", seen["07-mixed01-restore-begin"].Result.Stdout);
        Assert.Contains(seen["08-mixed01-prepare-begin"].Links, l => l.Name == "mvtap7");
        Assert.Empty(seen["12-mixed01-release-end"].State!.Records);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
    }

    [Fact]
    public void AFailedPrepareIsFollowedByStoppedAndReleaseThatFindNothingLeft()
    {
        using var h = HookHarness.Create("uplink1");
        var steps = Steps("prepare-fails").ToList();

        HookResult prepare = h.Run(steps[0].Argv[1], steps[0].Argv[2], steps[0].Argv[3], steps[0].Xml);
        var after = steps.Skip(1).Select(s => h.Run(s.Argv[1], s.Argv[2], s.Argv[3], s.Xml)).ToList();

        Assert.Equal((1, "libvirt-shim: domain 'mixed01': NIC 52:54:00:aa:00:07 (mvtap7): " +
            "lower device uplink0 does not exist on this host\n"), (prepare.ExitCode, prepare.Stderr));
        Assert.All(after, r => Assert.Equal((0, ""), (r.ExitCode, r.Stderr)));
        Assert.Empty(h.ReadState()!.Records);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
    }

    [Fact]
    public void TheReplayVerbRunsARecordingAgainstTheKernel()
    {
        using var h = HookHarness.Create();
        HookResult replay = HookHarness.Finish(h.StartProcess("replay", SampleFiles.Recording("mixed01-lifecycle")), "");
        Assert.Equal(0, replay.ExitCode);
        Assert.Contains("[1/12] mixed01 prepare begin -  exit 0", replay.Stdout);
        Assert.Contains("mvtap7", replay.Stdout);
        Assert.Contains("[12/12] mixed01 release end -  exit 0", replay.Stdout);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
    }
}
