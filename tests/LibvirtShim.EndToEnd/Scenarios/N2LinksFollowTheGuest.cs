using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 21 on one host, with guests that need no OS: while the listener runs, every owned link is up exactly when its guest's
/// vCPUs run. Each step's libvirt events are written to the timings file, so the events each daemon version sends for a start,
/// a paused start, suspend and resume, save and restore (paused too) and a hot-plug are on record. The listener survives the
/// daemon restarting under it: it reconnects and reconciles (a link set up by hand behind its back while the guest is paused
/// goes down again).
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class N2LinksFollowTheGuest(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-n2-";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public void A_StartSuspendResumeSaveRestoreAndHotPlug_LinksFollowTheVcpus()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("n2a links follow start, suspend, resume, save, restore and hot-plug");
        var nic = new OwnedNic(GuestXml.Mac(0x96, 1), fixture.Tap(970), LibvirtFixture.Uplink0);
        var guest = new GuestXml(Prefix + "life", [nic]) { Acpi = true };
        string image = Path.Combine(fixture.WorkDir, guest.Name + ".save");
        var events = new List<string>();
        try
        {
            using ShimListener listener = fixture.StartListener();
            using var watch = new EventLog(("main", fixture.Main));
            Step(log, watch, events, guest, "create", () => fixture.Main.Create(guest), up: true);
            Assert.False(watch.Links(nic.Name)[0].Up,
                $"prepare created {nic.Name} up while the listener ran: {string.Join(", ", watch.Links(nic.Name))}");
            Step(log, watch, events, guest, "suspend", () => fixture.Main.Run("suspend", guest.Name), up: false);
            Step(log, watch, events, guest, "resume", () => fixture.Main.Run("resume", guest.Name), up: true);
            Step(log, watch, events, guest, "save", () => fixture.Main.Run(TimeSpan.FromSeconds(120), "save", guest.Name, image), up: null);
            Step(log, watch, events, guest, "restore", () => fixture.Main.Run(TimeSpan.FromSeconds(120), "restore", image), up: true);
            Step(log, watch, events, guest, "save again", () => fixture.Main.Run(TimeSpan.FromSeconds(120), "save", guest.Name, image), up: null);
            Step(log, watch, events, guest, "restore --paused", () => fixture.Main.Run(TimeSpan.FromSeconds(120), "restore", image, "--paused"),
                up: false);
            Step(log, watch, events, guest, "resume", () => fixture.Main.Run("resume", guest.Name), up: true);
            Step(log, watch, events, guest, "destroy", () => fixture.Main.Destroy(guest.Name), up: null);
            Step(log, watch, events, guest, "create --paused", () => fixture.Main.Run("create", fixture.Main.WriteXml(guest.Name, guest.ToXml()),
                "--paused"), up: false);

            // Hot-plug into the paused guest: down until it resumes; into the running guest: up at once.
            string paused = AttachedLink(log, guest, GuestXml.Mac(0x96, 2));
            Assert.False(IpLinks.Find(paused)!.AdminUp, $"{paused} was hot-plugged up into a paused guest while the listener ran");
            Step(log, watch, events, guest, "resume", () => fixture.Main.Run("resume", guest.Name), up: true);
            WaitUp(paused, true, "the NIC hot-plugged while the guest was paused, after resume");
            string running = AttachedLink(log, guest, GuestXml.Mac(0x96, 3));
            Assert.True(IpLinks.Find(running)!.AdminUp, $"{running} was hot-plugged down into a running guest");

            fixture.Timings.Add($"libvirt events per step ({fixture.Versions}):\n  " + string.Join("\n  ", events));
            ListenerFigures figures = listener.Figures()!;
            Assert.True(figures["links_set_up"] >= 6 && figures["links_set_down"] >= 3 && figures["failures"] == 0, figures.ToString());
            Assert.Equal(0, fixture.Status().ExitCode);
            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed());
        }
        finally
        {
            fixture.AfterScenario(Prefix);
        }
    }

    [Fact]
    public void B_TheDaemonRestartsUnderTheListener_ItReconnectsAndReconciles()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("n2b the daemon restarts under the listener: it reconnects and reconciles");
        var nic = new OwnedNic(GuestXml.Mac(0x97, 1), fixture.Tap(975), LibvirtFixture.Uplink0);
        var guest = new GuestXml(Prefix + "restart", [nic]);
        try
        {
            using ShimListener listener = fixture.StartListener();
            fixture.Main.Create(guest).MustSucceed($"virsh create {guest.Name}");
            WaitUp(nic.Name, true, "after the start");
            fixture.Main.Run("suspend", guest.Name).MustSucceed("virsh suspend");
            WaitUp(nic.Name, false, "after suspend");

            // Behind the listener's back (no event tells it): only a reconcile finds it.
            Cmd.Run("ip", ["link", "set", nic.Name, "up"]).MustSucceed();
            long connections = listener.Figures()!["connections"];
            log.Step("restart the daemon", fixture.RestartDaemon);
            ListenerFigures after = Poll.Until(() => listener.Figures()!, f => f["connections"] > connections && f["connected"] == 1,
                "the listener to reconnect", TimeSpan.FromSeconds(60), f => f.ToString());
            WaitUp(nic.Name, false, "after the listener reconnected (the guest is paused)");
            fixture.Main.Run("resume", guest.Name).MustSucceed("virsh resume");
            WaitUp(nic.Name, true, "after resume, on the new connection");
            log.Say($"listener after the restart: {listener.Figures()}");
            Assert.True(after["reconciles"] >= 2, after.ToString());
            Assert.Equal(0, fixture.Status().ExitCode);
            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed());
        }
        finally
        {
            fixture.AfterScenario(Prefix);
        }
    }

    /// <summary>One virsh step: it must succeed, then the guest's owned link must be up or down (null: the guest is gone, so is its link).</summary>
    private static void Step(ScenarioLog log, EventLog watch, List<string> events, GuestXml guest, string what, Func<CmdResult> step, bool? up)
    {
        int before = watch.Lifecycle(guest.Name).Count;
        log.Step($"virsh {what}", step).MustSucceed($"virsh {what}");
        string link = guest.Owned.Single().Name;
        if (up is { } wanted) WaitUp(link, wanted, $"after virsh {what}");
        else Poll.Until(() => !IpLinks.Exists(link), $"{link} to go after virsh {what}", Bound);
        // The events of this step: those seen until its link is as it should be, give or take the last one's delivery.
        Poll.Until(() => watch.Lifecycle(guest.Name).Count > before, $"libvirt's events of virsh {what}", Bound);
        events.Add($"{what}: {string.Join(", ", watch.Lifecycle(guest.Name).Skip(before).Select(e => e.What))}");
    }

    private static void WaitUp(string link, bool up, string when) =>
        Poll.Until(() => IpLinks.Find(link), l => l is not null && l.AdminUp == up, $"{link} to be {(up ? "up" : "down")} {when}", Bound,
            l => l?.ToString() ?? "no such link");

    private string AttachedLink(ScenarioLog log, GuestXml guest, string mac)
    {
        CmdResult attach = log.Step($"attach-interface --live {mac}", () => ShimAdmin.Run(fixture,
            ["attach-interface", guest.Name, "--source", LibvirtFixture.Uplink0, "--mac", mac, "--live"]));
        Assert.True(attach.Ok, attach.Describe());
        return ShimAdmin.AttachedName(attach);
    }
}
