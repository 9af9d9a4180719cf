using System.Runtime.InteropServices;
using LibvirtShim.Libvirt;
using LibvirtShim.Listener;
using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Listener;

/// <summary>
/// The listener's loop for real, against libvirt's in-process test driver (test:///default: it emits lifecycle events through
/// libvirt's event loop as a daemon does) and the kernel's links in a network namespace: the reconcile when it connects, each
/// suspend and resume followed, links without the guest's marks never touched, the lock hooks look at, and the figures.
/// </summary>
public sealed partial class WatchLoopTests : IDisposable
{
    private const string Uuid = "5c3a2b1d-0e4f-4a6b-8c7d-9e0f1a2b3c4d";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private readonly HookHarness _h = HookHarness.Create();

    [Fact]
    public void Links_follow_suspend_and_resume_and_a_reconcile_puts_them_right_when_it_connects()
    {
        _h.Settings.Instance = "watch-test";
        var marker = LinkMarker.For(_h.Settings);
        var domain = Guid.Parse(Uuid);
        using LinkTable table = _h.Ns.OpenLinkTable();
        int lower = _h.Ns.Link("uplink0").Index;
        // Its own two links, up as a prepare without a listener leaves them; a stranger's link on a name its XML also gives.
        MacvtapRequest Owned(string name, int mac) =>
            new(name, lower, new MacAddress(0x5254_00e2_0000UL | (uint)mac), MacvtapMode.Bridge, marker.Group(domain), marker.Alias(domain));
        Assert.All(table.CreateMacvtaps([Owned("wt0", 1), Owned("wt1", 2), Owned("wt2", 3) with { Group = 7, Alias = "someone else" }]),
            o => Assert.NotNull(o.Created));

        LibvirtWatchConnection.StartEventLoop();
        SafeLibvirtConnectHandle connection = Interop.Libvirt.Open("test:///default");
        nint guest = virDomainCreateXML(connection.DangerousGetHandle(), GuestXml(), 0);
        Assert.NotEqual(0, guest);
        try
        {
            Assert.Equal(0, virDomainSuspend(guest));
            using var stop = new CancellationTokenSource();
            var loop = new WatchLoop(_h.Settings, "test:///default", table, null, marker, Serilog.Core.Logger.None, TimeProvider.System,
                sink => LibvirtWatchConnection.Over(connection, sink));
            var running = new Thread(() => loop.Run(stop.Token)) { IsBackground = true, Name = "watch loop" };
            running.Start();

            WaitFor(["down", "down", "up"], "the reconcile to take the paused guest's links down, and not the stranger's");
            Assert.Equal(ListenerPresence.Connected, ListenerLock.Probe(_h.Settings.StateDir));

            Assert.Equal(0, virDomainResume(guest));
            WaitFor(["up", "up", "up"], "resumed: its links up");
            Assert.Equal(0, virDomainSuspend(guest));
            WaitFor(["down", "down", "up"], "suspended: its links down");
            Assert.Equal(0, virDomainResume(guest));
            WaitFor(["up", "up", "up"], "resumed again");

            ListenerMetrics metrics = MetricsOnceSaved(m => m.LinksSetUp + m.LinksSetDown >= 8);
            Assert.Equal((true, 1L, 4L, 4L), (metrics.Connected, metrics.Reconciles, metrics.LinksSetUp, metrics.LinksSetDown));
            Assert.True(metrics.Events >= 3, $"{metrics.Events} events");
            Assert.Equal(0, metrics.Failures);

            // The repair thread's word (UplinkRepair): counted as repairs, not as libvirt's events.
            loop.Repaired(domain);
            loop.RepairFailed();
            ListenerMetrics repaired = MetricsOnceSaved(m => m.Repairs == 1 && m.RepairFailures == 1);
            Assert.Equal(metrics.Events, repaired.Events);

            stop.Cancel();
            Assert.True(running.Join(Bound), "the loop did not stop");
            Assert.Equal(ListenerPresence.Gone, ListenerLock.Probe(_h.Settings.StateDir));
            Assert.False(ListenerFilesTests.ReadMetrics(_h.Settings.StateDir)?.Connected ?? true);
        }
        finally
        {
            virDomainFree(guest);
        }
    }

    /// <summary>The listener saves its figures after it changed the links: the first saved figures that <paramref name="done"/> accepts.</summary>
    private ListenerMetrics MetricsOnceSaved(Func<ListenerMetrics, bool> done)
    {
        ListenerMetrics? metrics = null;
        var deadline = DateTime.UtcNow + Bound;
        while (DateTime.UtcNow < deadline)
        {
            metrics = ListenerFilesTests.ReadMetrics(_h.Settings.StateDir);
            if (metrics is not null && done(metrics)) return metrics;
            Thread.Sleep(20);
        }
        Assert.Fail($"the listener's figures were not saved in time: {metrics}");
        return null!;
    }

    private void WaitFor(string[] states, string what)
    {
        string[] now = [];
        var deadline = DateTime.UtcNow + Bound;
        while (DateTime.UtcNow < deadline)
        {
            now = new[] { "wt0", "wt1", "wt2" }.Select(n => _h.Ns.Link(n).IsUp ? "up" : "down").ToArray();
            if (now.SequenceEqual(states)) return;
            Thread.Sleep(20);
        }
        Assert.Fail($"{what}: links wt0, wt1, wt2 are {string.Join(", ", now)}, not {string.Join(", ", states)}");
    }

    private static string GuestXml() => $"""
        <domain type='test'>
          <name>watched</name>
          <uuid>{Uuid}</uuid>
          <memory>65536</memory>
          <os><type>hvm</type></os>
          <devices>
            <interface type='ethernet'><mac address='52:54:00:e2:00:01'/><target dev='wt0' managed='no'/></interface>
            <interface type='ethernet'><mac address='52:54:00:e2:00:02'/><target dev='wt1' managed='no'/></interface>
            <interface type='ethernet'><mac address='52:54:00:e2:00:03'/><target dev='wt2' managed='no'/></interface>
          </devices>
          <metadata>
            <shim:macvtap xmlns:shim='urn:libvirt-shim:macvtap:1'>
              <shim:link mac='52:54:00:e2:00:01' source='uplink0'/>
              <shim:link mac='52:54:00:e2:00:02' source='uplink0'/>
              <shim:link mac='52:54:00:e2:00:03' source='uplink0'/>
            </shim:macvtap>
          </metadata>
        </domain>
        """;

    public void Dispose() => _h.Dispose();

    [LibraryImport("libvirt.so.0", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint virDomainCreateXML(nint connection, string xml, uint flags);

    [LibraryImport("libvirt.so.0")]
    private static partial int virDomainSuspend(nint domain);

    [LibraryImport("libvirt.so.0")]
    private static partial int virDomainResume(nint domain);

    [LibraryImport("libvirt.so.0")]
    private static partial int virDomainFree(nint domain);
}
