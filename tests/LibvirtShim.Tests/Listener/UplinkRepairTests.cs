using System.Collections.Concurrent;
using LibvirtShim.Libvirt;
using LibvirtShim.Listener;
using LibvirtShim.Messages;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Listener;

/// <summary>
/// The listener's repair of lost uplinks, on its own thread as <c>watch</c> runs it: the kernel's link announcements heard
/// in a network namespace, the uplink veth deleted (its macvtap goes with it) and made again, the link made again by the
/// repair verb's code and the NIC plugged in again (the guest as libvirt would hold it: <see cref="FakeGuest"/>); the links,
/// tap nodes, state and listener lock for real.
/// </summary>
public sealed class UplinkRepairTests
{
    private static readonly Guid Web = TestDomains.Uuid(78);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static string Xml => TestDomains.Owned("web", Web, [new("52:54:00:aa:78:01", "mvtap1", "uplink0", LinkAttributes: "mtu='1400'")]);

    [Fact]
    public void An_uplink_made_again_gets_its_lost_link_back_and_the_nic_plugged_in_again()
    {
        using var h = Started(out IpLink before);
        var guest = new FakeGuest("web", Xml, Xml) { LiveReadsToDetach = 2 };
        using var repair = RepairThread.Start(h, guest);

        h.Ns.Ip("link", "del", "uplink0");
        repair.WaitForAwaited(["uplink0"], "the lost link's uplink to be waited for");
        Assert.DoesNotContain(h.Ns.Links(), l => l.Name == "mvtap1");
        h.Ns.AddVeth("uplink0", "uplink0p");

        IpLink after = repair.WaitForLink(h, "mvtap1");
        repair.Stop();
        Assert.NotEqual(before.Index, after.Index);
        Assert.Equal((before.Address, "uplink0", before.Mode, 1400, before.Alias, before.GroupNumber, true),
            (after.Address, after.Lower, after.Mode, after.Mtu, after.Alias, after.GroupNumber, after.IsUp));
        Assert.True(Interop.Files.Lstat(h.Devices.Taps.NodeOf(after.Index)) is { IsCharacterDevice: true });
        Assert.Equal((Holding.Created, after.Index), (h.ReadState()!.Find("mvtap1")!.Holding, h.ReadState()!.Find("mvtap1")!.Ifindex));
        Assert.Equal(["detach Live", "attach Live"], guest.Calls);
        Assert.Equal([Web], repair.Repaired);
        Assert.Empty(repair.Repairer.Awaited);
    }

    /// <summary>While a listener is connected, a repaired link follows the vCPU rule: the guest is paused, so it is made down.</summary>
    [Fact]
    public void With_a_listener_connected_the_link_of_a_paused_guest_is_made_again_down()
    {
        using var h = Started(out _);
        using var live = ListenerLock.HoldLive(h.Settings.StateDir, TimeSpan.FromSeconds(1));
        var guest = new FakeGuest("web", Xml, Xml) { LiveReadsToDetach = 2, VcpusRun = false };
        using var repair = RepairThread.Start(h, guest);

        h.Ns.Ip("link", "del", "uplink0");
        repair.WaitForAwaited(["uplink0"], "the lost link's uplink to be waited for");
        h.Ns.AddVeth("uplink0", "uplink0p");

        IpLink after = repair.WaitForLink(h, "mvtap1");
        repair.Stop();
        Assert.False(after.IsUp);
        Assert.Equal(["detach Live", "attach Live"], guest.Calls);
        Assert.Equal([Web], repair.Repaired);
    }

    /// <summary>A listener started after the uplink came back (no announcement to hear) repairs at once.</summary>
    [Fact]
    public void A_listener_started_after_the_uplink_came_back_repairs_at_once()
    {
        using var h = Started(out IpLink before);
        h.Ns.Ip("link", "del", "uplink0");
        h.Ns.AddVeth("uplink0", "uplink0p");
        var guest = new FakeGuest("web", Xml, Xml) { LiveReadsToDetach = 2 };
        using var repair = RepairThread.Start(h, guest);

        IpLink after = repair.WaitForLink(h, "mvtap1");
        repair.Stop();
        Assert.NotEqual(before.Index, after.Index);
        Assert.Equal(["detach Live", "attach Live"], guest.Calls);
    }

    /// <summary>A repair libvirt refuses is told as failed (the listener counts it), not as repaired.</summary>
    [Fact]
    public void A_repair_that_fails_is_told_as_failed()
    {
        using var h = Started(out _);
        var guest = new FakeGuest("web", Xml, Xml) { LiveReadsToDetach = 2 };
        using var repair = RepairThread.Start(h, guest, name => throw new ShimFailure($"cannot reach libvirt for {name}"));

        h.Ns.Ip("link", "del", "uplink0");
        repair.WaitForAwaited(["uplink0"], "the lost link's uplink to be waited for");
        h.Ns.AddVeth("uplink0", "uplink0p");
        RepairThread.Until(() => repair.Failed.Length > 0, () => "the failed repair was not told");
        repair.Stop();
        Assert.All(repair.Failed, uuid => Assert.Equal(Web, uuid));
        Assert.Empty(repair.Repaired);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Name == "mvtap1");
    }

    /// <summary>The guest started (prepare), running as its status file says.</summary>
    private static HookHarness Started(out IpLink link)
    {
        var h = HookHarness.Create("uplink0");
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        h.WriteStatusFile("web", Xml);
        link = h.Ns.Link("mvtap1");
        return h;
    }

    /// <summary>An <see cref="UplinkRepair"/> running on its thread over the namespace's link announcements, stopped and joined at the end.</summary>
    private sealed class RepairThread : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentQueue<Guid> _repaired = new();
        private readonly ConcurrentQueue<Guid> _failed = new();
        private ShimContext _context = null!;
        private LinkEvents _events = null!;
        private Thread _thread = null!;

        public UplinkRepair Repairer { get; private set; } = null!;
        public Guid[] Repaired => [.. _repaired];
        public Guid[] Failed => [.. _failed];

        public static RepairThread Start(HookHarness h, FakeGuest guest, Func<string, IGuestDevices>? open = null)
        {
            var r = new RepairThread { _context = h.OpenContext(), _events = h.Ns.InNamespace(() => LinkEvents.Open(TimeSpan.FromMilliseconds(100))) };
            _ = r._context.Links;   // opened in the namespace now, before the test changes its links
            r.Repairer = new UplinkRepair(r._context, open ?? (name => name == guest.Name ? guest : throw new InvalidOperationException(name)),
                TimeSpan.FromSeconds(5), r._repaired.Enqueue, r._failed.Enqueue);
            r._thread = r.Repairer.Start(r._events, r._stop.Token);
            return r;
        }

        public void WaitForAwaited(string[] lowers, string what) =>
            Until(() => Repairer.Awaited.SequenceEqual(lowers), () => $"{what}: waiting for [{string.Join(", ", Repairer.Awaited)}]");

        /// <summary>The link, once made again and the repair's round finished (the guest told).</summary>
        public IpLink WaitForLink(HookHarness h, string name)
        {
            Until(() => !_repaired.IsEmpty && h.Ns.Links().Any(l => l.Name == name), () => $"{name} was not made again");
            return h.Ns.Link(name);
        }

        public void Stop()
        {
            _stop.Cancel();
            Assert.True(_thread.Join(Bound), "the repair thread did not stop");
        }

        public static void Until(Func<bool> condition, Func<string> failure)
        {
            var deadline = DateTime.UtcNow + Bound;
            while (!condition())
            {
                if (DateTime.UtcNow > deadline) Assert.Fail(failure());
                Thread.Sleep(20);
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _thread?.Join(Bound);
            _events?.Dispose();
            _context?.Dispose();
            _stop.Dispose();
        }
    }
}
