using LibvirtShim.Domain;
using LibvirtShim.Libvirt;
using LibvirtShim.Lifecycle;
using LibvirtShim.Listener;
using LibvirtShim.Net;
using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Listener;

/// <summary>
/// How prepare and attach-interface leave the links they create: down while a listener connected to libvirt holds its lock
/// (it brings them up when the vCPUs run), up at once otherwise, and the call's log line says which and why. The hook runs as
/// libvirt runs it, against a network namespace and the real lock files.
/// </summary>
public sealed class LinksBeforeTheVcpusTests
{
    private static readonly Guid Web = TestDomains.Uuid(71);
    private static string WebXml => TestDomains.Owned("web", Web, TestDomains.Nics(71, 2, firstName: 1));

    [Fact]
    public void Without_a_listener_prepare_brings_the_links_up_at_once_and_logs_why()
    {
        using var h = HookHarness.Create();

        Assert.Equal(0, h.Run("web", "prepare", "begin", WebXml).ExitCode);

        Assert.All(OwnedLinks(h), l => Assert.True(l.IsUp));
        Assert.Contains("created 2 of 2 macvtaps, up at once: no listener (libvirt-shim watch) has run since boot", Log(h));
    }

    [Fact]
    public void With_a_listener_connected_prepare_leaves_them_down_and_settled_and_a_listener_gone_brings_back_the_old_way()
    {
        using var h = HookHarness.Create();
        Directory.CreateDirectory(h.Settings.StateDir);
        using (ListenerLock.HoldLive(h.Settings.StateDir, TimeSpan.FromSeconds(1)))
        {
            Assert.Equal(0, h.Run("web", "prepare", "begin", WebXml).ExitCode);
            Assert.All(OwnedLinks(h), l => Assert.Equal((false, "none"), (l.IsUp, l.AddressGenerationMode)));
            Assert.All(OwnedLinks(h), l => Assert.Equal(LinkMarker.For(h.Settings).Alias(Web), l.Alias));
            Assert.Contains("created 2 of 2 macvtaps, down until the guest's vCPUs run (the listener brings them up)", Log(h));

            // Again (libvirt retrying, a second prepare): the settled links are kept, not replaced.
            int[] before = OwnedLinks(h).Select(l => l.Index).ToArray();
            Assert.Equal(0, h.Run("web", "prepare", "begin", WebXml).ExitCode);
            Assert.Equal(before, OwnedLinks(h).Select(l => l.Index));
            Assert.Contains("created 0 of 2 macvtaps", Log(h));
        }

        // The listener is gone: the next prepare cannot leave down links for nobody to bring up, so it replaces them. (A
        // process another test forks in the meantime holds a copy of the lock's descriptor until it execs: wait for it.)
        Assert.True(SpinWait.SpinUntil(() => ListenerLock.Probe(h.Settings.StateDir) == ListenerPresence.Gone, TimeSpan.FromSeconds(10)),
            "the listener's lock stayed held");
        Assert.Equal(0, h.Run("web", "prepare", "begin", WebXml).ExitCode);
        Assert.All(OwnedLinks(h), l => Assert.True(l.IsUp));
        Assert.Contains("created 2 of 2 macvtaps, up at once: the listener (libvirt-shim watch) is not connected to libvirt", Log(h));
    }

    /// <summary>A guarded link's guard is in place when prepare creates it down, and stays when the listener brings it up.</summary>
    [Fact]
    public void A_guarded_link_created_down_has_its_guard_before_the_listener_brings_it_up()
    {
        using var h = HookHarness.Create();
        string xml = TestDomains.Owned("web", Web, [new(TestDomains.Mac(71, 0), "mvtap1", LinkAttributes: "guard='mac'")]);
        Directory.CreateDirectory(h.Settings.StateDir);
        using (ListenerLock.HoldLive(h.Settings.StateDir, TimeSpan.FromSeconds(1)))
            Assert.Equal(0, h.Run("web", "prepare", "begin", xml).ExitCode);
        Assert.False(h.Ns.Link("mvtap1").IsUp);
        NftView guarded = NftView.Of(h.Ns);
        Assert.Equal(["mvtap1"], guarded.EgressChains.Select(c => c.Device));
        Assert.True(guarded.Rules > 0);

        using ShimContext context = h.OpenContext();
        FollowResult result = LinkFollower.Apply(context.Links, context.Marker, [new GuestSnapshot(Web, "web", GuestState.Running, 1, ["mvtap1"])]);

        Assert.Equal(1, result.SetUp);
        Assert.True(h.Ns.Link("mvtap1").IsUp);
        NftView after = NftView.Of(h.Ns);
        Assert.Equal(["mvtap1"], after.EgressChains.Select(c => c.Device));
        Assert.Equal(guarded.Rules, after.Rules);
    }

    /// <summary>
    /// Each link brought up gets its announce, counted as sent, through an ip guard too; one the kernel will not send (an egress
    /// rule of someone else's dropping RARP) is counted as not sent, and the link is up all the same.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_listener_counts_the_announces_it_sent_and_those_it_could_not(bool dropped)
    {
        using var h = HookHarness.Create();
        string xml = TestDomains.Owned("web", Web, [new(TestDomains.Mac(72, 0), "mvtap1", LinkAttributes: "guard='ip' ips='192.0.2.72'")]);
        Directory.CreateDirectory(h.Settings.StateDir);
        using (ListenerLock.HoldLive(h.Settings.StateDir, TimeSpan.FromSeconds(1)))
            Assert.Equal(0, h.Run("web", "prepare", "begin", xml).ExitCode);
        if (dropped)
        {
            Tool.Run("ip", "netns", "exec", h.Ns.Name, "nft", "add", "table", "netdev", "test-rarp");
            Tool.Run("ip", "netns", "exec", h.Ns.Name, "nft", "add", "chain", "netdev", "test-rarp", "out",
                "{ type filter hook egress device mvtap1 priority -10; }");
            Tool.Run("ip", "netns", "exec", h.Ns.Name, "nft", "add", "rule", "netdev", "test-rarp", "out", "ether", "type", "0x8035", "drop");
        }

        using ShimContext context = h.OpenContext();
        using MacAnnouncer announcer = h.Ns.InNamespace(MacAnnouncer.Open);
        FollowResult result = LinkFollower.Apply(context.Links, context.Marker, [new GuestSnapshot(Web, "web", GuestState.Running, 1, ["mvtap1"])],
            announcer);

        Assert.Equal(1, result.SetUp);
        Assert.True(h.Ns.Link("mvtap1").IsUp);
        Assert.Equal(dropped ? (0, 1) : (1, 0), (result.Announced, result.Unannounced.Count));
    }

    /// <summary>
    /// The hook process, as libvirt runs it, with and without a listener: it never loads libvirt (so cannot call it), connects
    /// to no daemon's socket, and only tries the listener's lock without waiting (strace of the real executable).
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_hook_call_never_calls_libvirt_nor_waits_for_the_listener(bool listener)
    {
        Requires.Command("strace");
        using var h = HookHarness.Create();
        Directory.CreateDirectory(h.Settings.StateDir);
        string trace = Path.Combine(Path.GetDirectoryName(h.Settings.StateDir)!, "hook.strace");
        using IDisposable? held = listener ? ListenerLock.HoldLive(h.Settings.StateDir, TimeSpan.FromSeconds(1)) : null;
        h.Wrapper = ["strace", "-f", "-qq", "-y", "-o", trace, "-e", "trace=openat,connect,flock"];

        foreach ((string operation, string sub) in new[] { ("prepare", "begin"), ("started", "begin"), ("release", "end") })
        {
            HookResult r = h.RunProcess("web", operation, sub, WebXml);
            Assert.True(r.ExitCode == 0, $"{operation}: {r.Stderr}");
            string[] calls = File.ReadAllLines(trace);
            Assert.DoesNotContain(calls, c => c.Contains("libvirt.so", StringComparison.Ordinal));
            Assert.DoesNotContain(calls, c => c.Contains("connect(", StringComparison.Ordinal) && c.Contains("-sock", StringComparison.Ordinal));
            string[] listenerLocks = calls
                .Where(c => c.Contains("flock(", StringComparison.Ordinal) && c.Contains("/listener>", StringComparison.Ordinal)).ToArray();
            Assert.All(listenerLocks, c => Assert.Contains("LOCK_NB", c, StringComparison.Ordinal));
            if (operation != "prepare") continue;
            if (listener) Assert.NotEmpty(listenerLocks);   // without one, StateDir/listener does not exist: nothing to lock
            Assert.All(OwnedLinks(h), l => Assert.Equal(!listener, l.IsUp));
        }
        Assert.Empty(OwnedLinks(h));
    }

    [Theory]
    [InlineData(true, false, true)]    // no listener: up, as before
    [InlineData(true, true, true)]     // a listener, and the guest runs: up now (no event will come)
    [InlineData(false, true, false)]   // a listener, and the guest is paused: down until it resumes
    [InlineData(false, false, true)]   // paused, but nobody would bring it up later: up
    public void A_hot_plugged_nic_follows_the_same_rule(bool vcpusRun, bool listener, bool up)
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", WebXml).ExitCode);
        var guest = new FakeGuest("web", WebXml, WebXml) { VcpusRun = vcpusRun };
        using ShimContext context = h.OpenContext();
        Directory.CreateDirectory(h.Settings.StateDir);
        using IDisposable? held = listener ? ListenerLock.HoldLive(h.Settings.StateDir, TimeSpan.FromSeconds(1)) : null;

        AttachedNic attached = AttachInterface.Run(context, guest,
            new AttachRequest("uplink0", null, MacvtapMode.Bridge, null, null, Live: true, Config: false));

        Assert.Equal(up, h.Ns.Link(attached.Nic.Name).IsUp);
    }

    private static List<IpLink> OwnedLinks(HookHarness h) => h.Ns.Links().Where(l => l.Kind == "macvtap").OrderBy(l => l.Name).ToList();

    private static string Log(HookHarness h) => File.ReadAllText(h.Settings.LogFile);
}
