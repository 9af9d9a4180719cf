using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 13: a host in use. Definitions the suite did not make (names outside its e2e- prefix) hold managed names of
/// another hook configuration (the default prefix mvtap, another instance), one of them runs, and the suite's guest
/// with its own prefix starts, shows in `status` without a problem and stops, while the others stay as they were.
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class S9ForeignDefinitions(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-s9-";
    private const string ForeignDefined = "s9-foreign-defined";
    private const string ForeignRunning = "s9-foreign-running";

    [Fact]
    public void ForeignDefinitionsHoldingOtherManagedNames_DoNotDisturbTheSuitesGuest()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("9 foreign definitions with managed names of another prefix beside the suite's guest");
        // The default prefix, with numbers the suite's own guests use too.
        var definedElsewhere = new GuestXml(ForeignDefined, [new OwnedNic(GuestXml.Mac(0xa0, 1), "mvtap100", LibvirtFixture.Uplink0)]);
        var runningElsewhere = new GuestXml(ForeignRunning, [new UserNic(GuestXml.Mac(0xa0, 2))]);
        var guest = new GuestXml(Prefix + "guest", [new OwnedNic(GuestXml.Mac(0xa0, 3), fixture.Tap(100), LibvirtFixture.Uplink0)]);
        var foreign = new[] { ForeignDefined, ForeignRunning };
        try
        {
            Assert.True(!foreign.Any(fixture.Main.Exists), $"{string.Join(" or ", foreign)} already exists on this host: not the suite's to touch");
            fixture.Main.Define(definedElsewhere);
            fixture.Main.Define(runningElsewhere);
            fixture.Main.Start(ForeignRunning).MustSucceed($"virsh start {ForeignRunning}");
            string definedXml = fixture.Main.DumpXml(ForeignDefined, inactive: true).ToString();
            log.Step("libvirt-shim seed (finds the foreign definitions)", () => fixture.Shim("seed").MustSucceed("libvirt-shim seed"));

            fixture.Main.Define(guest);
            log.Step("virsh start", () => fixture.Main.Start(guest.Name).MustSucceed($"virsh start {guest.Name}"));
            Expect.OwnedLinks(guest, IpLinks.ByName(), LibvirtFixture.Instance);
            ShimStatus status = fixture.Status();
            Assert.True(status.Find(fixture.Tap(100)) is { HeldAs: "created", Problem: null } e && e.Domain == guest.Name,
                $"{fixture.Tap(100)}: {status}");
            Assert.True(status.ExitCode == 0 && status.WithProblems.Count == 0, $"status with foreign definitions on the host: {status}");

            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed());
            Expect.WaitNothingLeftOf(fixture, guest);
            Assert.True(fixture.Main.IsActive(ForeignRunning), $"{ForeignRunning}: {fixture.Main.DomState(ForeignRunning)}");
            Assert.Equal(definedXml, fixture.Main.DumpXml(ForeignDefined, inactive: true).ToString());
            Assert.False(IpLinks.Exists("mvtap100") && IpLinks.Find("mvtap100")!.Mac == definedElsewhere.Owned.Single().Mac,
                "a link was made for the foreign definition that never started");
        }
        finally
        {
            foreach (string name in foreign)
            {
                fixture.Main.Run(TimeSpan.FromSeconds(60), "destroy", name);
                fixture.Main.Run(TimeSpan.FromSeconds(30), "undefine", name);
            }
            fixture.AfterScenario(Prefix);
        }
    }
}
