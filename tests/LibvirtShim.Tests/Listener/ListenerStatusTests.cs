using System.Globalization;
using System.Text.Json;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Listener;

/// <summary>
/// What status says of the listener and of links that do not follow their guest: status as a process in a test namespace,
/// the guest's state from its status file as libvirt writes it.
/// </summary>
public sealed class ListenerStatusTests
{
    private static readonly Guid Web = TestDomains.Uuid(91);
    private static string Xml => TestDomains.Owned("web", Web, [new("52:54:00:aa:91:01", "mvtap1"), new("52:54:00:aa:91:02", "mvtap2")]);

    [Fact]
    public void A_running_guests_link_that_is_down_is_a_problem_and_a_paused_guests_is_not()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        h.Ns.Ip("link", "set", "mvtap2", "down");

        WriteStatusFile(h, "paused", "migration");
        HookResult paused = HookHarness.Finish(h.StartProcess("status"), "");
        Assert.True(paused.ExitCode == 0, paused.Stdout + paused.Stderr);

        WriteStatusFile(h, "running", "migrated");
        HookResult running = HookHarness.Finish(h.StartProcess("status"), "");
        Assert.True(running.ExitCode == 3, running.Stdout + running.Stderr);
        Assert.Contains("mvtap2: the guest's vCPUs run but its link is down: the listener brings it up when it is connected", running.Stdout);
        Assert.DoesNotContain("mvtap1:", running.Stdout);

        HookResult metrics = HookHarness.Finish(h.StartProcess("status", "--format", "prometheus"), "");
        Assert.Contains("libvirt_shim_disagreements{kind=\"running_guest_link_down\"} 1\n", metrics.Stdout);
    }

    [Fact]
    public void Without_a_listener_status_says_so_and_what_it_costs_and_is_still_healthy()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        h.WriteStatusFile("web", Xml);

        HookResult r = HookHarness.Finish(h.StartProcess("status"), "");

        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains("listener: not running (no libvirt-shim watch has been connected to libvirt since boot): links come up at prepare " +
            "instead of when the guest's vCPUs run: an arriving live migration's links take frames from co-located guests until the switchover",
            r.Stdout);
        Assert.Contains("start it: systemctl start libvirt-shim-watch", r.Stdout);
        HookResult json = HookHarness.Finish(h.StartProcess("status", "--json"), "");
        using JsonDocument doc = JsonDocument.Parse(json.Stdout);
        Assert.False(doc.RootElement.GetProperty("listener").GetProperty("running").GetBoolean());
        HookResult metrics = HookHarness.Finish(h.StartProcess("status", "--format", "prometheus"), "");
        Assert.Contains("libvirt_shim_listener_up 0\n", metrics.Stdout);
        Assert.DoesNotContain("libvirt_shim_listener_links_set_total", metrics.Stdout);
    }

    [Fact]
    public void With_a_listener_status_shows_its_figures_in_every_format()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        h.WriteStatusFile("web", Xml);
        long at = 1_765_000_100;
        (ListenerMetrics.Starting(4242, at - 100, "qemu:///system") with
        {
            Connected = true,
            ConnectedSince = at - 99,
            Connections = 1,
            Events = 9,
            LinksSetUp = 5,
            LinksSetDown = 3,
            Reconciles = 2,
            LastReconcileAt = at,
            Repairs = 3,
            RepairFailures = 1,
            Announces = 4,
            AnnounceFailures = 1,
        }).Write(new StateFiles(h.Settings.StateDir));
        using var live = ListenerLock.HoldLive(h.Settings.StateDir, TimeSpan.FromSeconds(1));

        HookResult r = HookHarness.Finish(h.StartProcess("status"), "");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.True(r.Stdout.Contains("listener: running (pid 4242), connected to libvirt (qemu:///system) since 2025-12-06 05:46:41; 5 links set up and " +
            "3 set down, 2 reconciles (the last at 2025-12-06 05:48:20), 0 failures; 3 guests' lost links repaired, 1 repairs failed; 1 of 5 announces could not be sent (the log says why)",
            StringComparison.Ordinal), r.Stdout);

        HookResult json = HookHarness.Finish(h.StartProcess("status", "--json"), "");
        using JsonDocument doc = JsonDocument.Parse(json.Stdout);
        JsonElement listener = doc.RootElement.GetProperty("listener");
        Assert.Equal((true, 4242, 5, 3, 2), (listener.GetProperty("running").GetBoolean(), listener.GetProperty("pid").GetInt32(),
            listener.GetProperty("linksSetUp").GetInt32(), listener.GetProperty("linksSetDown").GetInt32(), listener.GetProperty("reconciles").GetInt32()));
        Assert.Equal((3, 1), (listener.GetProperty("repairs").GetInt32(), listener.GetProperty("repairFailures").GetInt32()));
        Assert.Equal((4, 1), (listener.GetProperty("announces").GetInt32(), listener.GetProperty("announceFailures").GetInt32()));

        HookResult metrics = HookHarness.Finish(h.StartProcess("status", "--format", "prometheus"), "");
        string[] expected =
        [
            "libvirt_shim_listener_up 1",
            "# TYPE libvirt_shim_listener_links_set_total counter",
            "libvirt_shim_listener_links_set_total{direction=\"up\"} 5",
            "libvirt_shim_listener_links_set_total{direction=\"down\"} 3",
            "libvirt_shim_listener_reconciles_total 2",
            "libvirt_shim_listener_events_total 9",
            "libvirt_shim_listener_failures_total 0",
            "# TYPE libvirt_shim_listener_repairs_total counter",
            "libvirt_shim_listener_repairs_total{outcome=\"repaired\"} 3",
            "libvirt_shim_listener_repairs_total{outcome=\"failed\"} 1",
            "# TYPE libvirt_shim_listener_announces_total counter",
            "libvirt_shim_listener_announces_total{outcome=\"sent\"} 4",
            "libvirt_shim_listener_announces_total{outcome=\"failed\"} 1",
            "libvirt_shim_listener_last_reconcile_timestamp_seconds " + at.ToString(CultureInfo.InvariantCulture),
        ];
        Assert.All(expected, line => Assert.Contains(line + "\n", metrics.Stdout));
    }

    private static void WriteStatusFile(HookHarness h, string state, string reason) =>
        File.WriteAllText(Path.Combine(h.Settings.LibvirtRunDir, "web.xml"),
            $"<domstatus state='{state}' reason='{reason}' pid='1'>\n{Xml}</domstatus>\n");
}
