using System.Diagnostics;
using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 22, a lost uplink: the booted guest's uplink veth is deleted (its macvtap goes with it) and made again;
/// `status` says the link was lost, first with the uplink missing, then that `repair` makes it again; `libvirt-shim
/// repair` makes the link again and plugs the NIC into the guest again, and the guest answers its LAN within 5 s of the
/// repair, on its own device, with nothing left disagreeing. Then the same with the listener (<c>libvirt-shim watch</c>)
/// running and no repair run: it hears the uplink come back and repairs, and the guest answers again.
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class G8GuestRepair(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-g8-";
    private static readonly TimeSpan WithinRepair = TimeSpan.FromSeconds(5);

    /// <summary>From the uplink made again: the listener hears it, makes the link, and the guest lets its NIC go and takes it again.</summary>
    private static readonly TimeSpan WithinListener = TimeSpan.FromSeconds(15);

    [Fact]
    public void A_UplinkDeletedAndMadeAgain_RepairBringsTheGuestBack()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("g8 booted guest: uplink deleted and made again, repair brings the guest back");
        var owned = new OwnedNic(GuestXml.Mac(0x97, 1), fixture.Tap(980), LibvirtFixture.Uplink0, "bridge", Mtu: 1400);
        var nic = new GuestLanNic(owned, Lan.GuestAddress(0), 1400);
        // ACPI: the guest must hear of the unplug and the plug.
        var guest = new LinuxGuest(fixture, Prefix + "repair", [nic], acpi: true);
        try
        {
            guest.Boot(fixture, log, ipv6: false);
            int before = IpLinks.Find(owned.Name)!.Index;

            log.Step("the uplink deleted", () => Veth.Delete(LibvirtFixture.Uplink0));
            Assert.False(IpLinks.Exists(owned.Name), $"{owned.Name} outlived its uplink");
            ExpectProblem(owned.Name, "link lost with its uplink, which is missing");

            log.Step("the uplink made again", () =>
            {
                Veth.Ensure(LibvirtFixture.Uplink0);
                Lan.AddPort(LibvirtFixture.Uplink0 + "p");
            });
            ExpectProblem(owned.Name, "link lost while the guest runs");
            Assert.False(Lan.Answers(nic.Address.V4), "the guest answers with its link gone");

            int mark = guest.ConsoleMark();
            long logMark = fixture.LogOffset();
            CmdResult repair = log.Step("libvirt-shim repair", () => ShimAdmin.Run(fixture, ["repair", guest.Name]));
            var sinceRepair = Stopwatch.StartNew();
            Assert.True(repair.Ok, repair.Describe());
            Assert.Contains($"domain '{guest.Name}': NIC {owned.Mac} ({owned.Name}): link made again, NIC plugged in again", repair.Stdout);
            log.Step("the guest answers its LAN within 5 s of the repair",
                () => WaitReachable(guest, owned, WithinRepair, mark, logMark, $"repair printed: {repair.Stdout}"));
            log.Say($"the guest answered {sinceRepair.ElapsedMilliseconds} ms after the repair");
            guest.WaitNicConfigured(nic, mark);
            before = ExpectRepaired(guest, owned, before);

            // Where the listener runs, it repairs when the uplink comes back: no repair verb.
            using (ShimListener listener = fixture.StartListener())
            {
                log.Step("with the listener running, the uplink deleted", () => Veth.Delete(LibvirtFixture.Uplink0));
                ExpectProblem(owned.Name, "link lost with its uplink, which is missing");
                mark = guest.ConsoleMark();
                logMark = fixture.LogOffset();
                log.Step("the uplink made again", () =>
                {
                    Veth.Ensure(LibvirtFixture.Uplink0);
                    Lan.AddPort(LibvirtFixture.Uplink0 + "p");
                });
                var sinceUplink = Stopwatch.StartNew();
                log.Step($"the listener repairs: the guest answers its LAN within {WithinListener.TotalSeconds} s of its uplink, no repair run",
                    () => WaitReachable(guest, owned, WithinListener, mark, logMark, "the listener repaired"));
                log.Say($"the guest answered {sinceUplink.ElapsedMilliseconds} ms after its uplink was made again");
                guest.WaitNicConfigured(nic, mark);
                Assert.Contains("Repaired 1 NICs: " + owned.Name, fixture.ShimLogSince(logMark));
                ListenerFigures? figures = Poll.Until(listener.Figures, f => f?["repairs"] == 1, "the listener to count its repair",
                    TimeSpan.FromSeconds(5), f => $"{f}");
                Assert.Equal(0, figures!["repair_failures"]);
                ExpectRepaired(guest, owned, before);
            }

            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed());
            Expect.WaitNothingLeftOf(fixture, guest.Xml);
        }
        finally
        {
            fixture.AfterScenario(Prefix);
            if (!IpLinks.Exists(LibvirtFixture.Uplink0))
            {
                Veth.Ensure(LibvirtFixture.Uplink0);
                Lan.AddPort(LibvirtFixture.Uplink0 + "p");
            }
        }
    }

    /// <summary>The guest answers within <paramref name="bound"/>; otherwise what its console, its NIC and the hook log say.</summary>
    private void WaitReachable(LinuxGuest guest, OwnedNic owned, TimeSpan bound, int mark, long logMark, string repaired)
    {
        try
        {
            guest.WaitReachable("after the repair", bound, ipv6: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            string console = guest.Console();
            Assert.Fail($"{e.Message}\n{repaired}\nguest console since the uplink came back:\n{console[Math.Min(mark, console.Length)..]}" +
                $"\nthe running guest's NIC: {ShimAdmin.Interface(fixture.Main.DumpXml(guest.Name), owned.Mac)}" +
                $"\nhook log:\n{fixture.ShimLogSince(logMark)}");
        }
    }

    /// <summary>The link made again (a new ifindex, the same MAC and MTU), QEMU holding it, status clean; its ifindex.</summary>
    private int ExpectRepaired(LinuxGuest guest, OwnedNic owned, int before)
    {
        KernelLink after = IpLinks.Find(owned.Name)!;
        Assert.NotEqual(before, after.Index);
        Assert.Equal((owned.Mac, 1400), (after.Mac, after.Mtu));
        guest.ExpectQemuHoldsItsTaps(fixture.Main, fixture.QemuRunDir);
        ShimStatus status = fixture.Status();
        Assert.True(status.ExitCode == 0, $"status after the repair: {status.Show()}");
        return after.Index;
    }

    private void ExpectProblem(string name, string problem)
    {
        ShimStatus status = fixture.Status();
        Assert.True(status.ExitCode == 3 && status.Find(name)?.Problem == problem, $"status of {name}, expected '{problem}': {status.Show()}");
    }
}
