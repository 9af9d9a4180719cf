using System.Text.RegularExpressions;
using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 4, scenario 3: starts the hook must refuse. virsh shows the hook's one-line message, the guest stays shut
/// off, and nothing of it is left: no link, no record.
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class S3FailingStarts(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-s3-";

    [Fact]
    public void A_LowerDeviceMissing()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("3a failing start: lower device missing");
        var guest = new GuestXml(Prefix + "missing", [
            new OwnedNic(GuestXml.Mac(0x30, 1), fixture.Tap(300), LibvirtFixture.Uplink0),
            new OwnedNic(GuestXml.Mac(0x30, 2), fixture.Tap(301), LibvirtFixture.MissingDevice),
        ]);
        try
        {
            Assert.False(IpLinks.Exists(LibvirtFixture.MissingDevice));
            StartMustFail(log, guest, failingNic: guest.Owned.Last(), LibvirtFixture.MissingDevice);
        }
        finally
        {
            fixture.AfterScenario(Prefix);
        }
    }

    [Fact]
    public void B_NameHeldByAnotherRunningGuest()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("3b failing start: name held by another running guest");
        var holder = new GuestXml(Prefix + "holder", [new OwnedNic(GuestXml.Mac(0x31, 1), fixture.Tap(310), LibvirtFixture.Uplink0)]);
        var taker = new GuestXml(Prefix + "taker", [
            new OwnedNic(GuestXml.Mac(0x31, 2), fixture.Tap(311), LibvirtFixture.Uplink0),
            new OwnedNic(GuestXml.Mac(0x31, 3), fixture.Tap(310), LibvirtFixture.Uplink1),
        ]);
        try
        {
            fixture.Main.Define(holder);
            fixture.Main.Start(holder.Name).MustSucceed($"virsh start {holder.Name}");
            StartMustFail(log, taker, failingNic: taker.Owned.Last(), fixture.Tap(310), holder.Name);

            // The holder is untouched.
            Assert.True(fixture.Main.IsActive(holder.Name));
            Expect.OwnedLinks(holder, IpLinks.ByName(), LibvirtFixture.Instance);
            StatusEntry? held = fixture.Status().Find(fixture.Tap(310));
            Assert.True(held is { HeldAs: "created", Problem: null } && held.Domain == holder.Name, $"{fixture.Tap(310)} in status: {held}");

            fixture.Main.Destroy(holder.Name).MustSucceed();
            Expect.WaitNothingLeftOf(fixture, holder);
        }
        finally
        {
            fixture.AfterScenario(Prefix);
        }
    }

    [Fact]
    public void C_LowerDeviceNotAllowed()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("3c failing start: lower device not in AllowedLowerDevices");
        var guest = new GuestXml(Prefix + "disallowed", [
            new OwnedNic(GuestXml.Mac(0x32, 1), fixture.Tap(320), LibvirtFixture.Uplink0),
            new OwnedNic(GuestXml.Mac(0x32, 2), fixture.Tap(321), LibvirtFixture.Disallowed),
        ]);
        try
        {
            Veth.Ensure(LibvirtFixture.Disallowed);
            StartMustFail(log, guest, failingNic: guest.Owned.Last(), LibvirtFixture.Disallowed, "AllowedLowerDevices");
        }
        finally
        {
            fixture.AfterScenario(Prefix);
            Veth.Delete(LibvirtFixture.Disallowed);
        }
    }

    /// <summary>
    /// The kernel refuses the second macvtap (its MAC is already on that lower device, through another guest): the
    /// first one, already created by the same call, must be rolled back.
    /// </summary>
    [Fact]
    public void D_KernelRefusesOneMacvtap_TheOthersAreRolledBack()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("3d failing start: kernel refuses a macvtap (MAC in use), rollback");
        string sharedMac = GuestXml.Mac(0x33, 1);
        var holder = new GuestXml(Prefix + "macholder", [new OwnedNic(sharedMac, fixture.Tap(330), LibvirtFixture.Uplink0)]);
        var guest = new GuestXml(Prefix + "dupmac", [
            new OwnedNic(GuestXml.Mac(0x33, 2), fixture.Tap(331), LibvirtFixture.Uplink0),
            new OwnedNic(sharedMac, fixture.Tap(332), LibvirtFixture.Uplink0),
        ]);
        try
        {
            fixture.Main.Define(holder);
            fixture.Main.Start(holder.Name).MustSucceed($"virsh start {holder.Name}");
            fixture.Main.Define(guest);
            CmdResult start = log.Step("virsh start (must fail)", () => fixture.Main.Start(guest.Name));
            Assert.False(start.Ok, $"virsh start {guest.Name} should fail: {start.Describe()}");
            string message = Expect.HookMessage(start, guest.Name);
            log.Say($"hook message: {message}");
            Assert.Matches(OneLine(guest, fixture.Tap(332)), message);
            Assert.Equal("shut off", fixture.Main.DomState(guest.Name));

            var links = IpLinks.ByName();
            Assert.False(links.ContainsKey(fixture.Tap(331)),
                $"{fixture.Tap(331)} (created before the failure) was not rolled back: {links.GetValueOrDefault(fixture.Tap(331))}");
            Assert.False(links.ContainsKey(fixture.Tap(332)), $"{fixture.Tap(332)} exists: {links.GetValueOrDefault(fixture.Tap(332))}");
            ShimStatus status = fixture.Status();
            Assert.True(status.Of(guest).Count == 0, $"records left for {guest.Name}: {status}");
            Expect.OwnedLinks(holder, links, LibvirtFixture.Instance);

            fixture.Main.Destroy(holder.Name).MustSucceed();
            Expect.WaitNothingLeftOf(fixture, holder);
            Expect.WaitNothingLeftOf(fixture, guest);
        }
        finally
        {
            fixture.AfterScenario(Prefix);
        }
    }

    /// <summary>"libvirt-shim: domain 'NAME': NIC MAC (NAME): reason", one line.</summary>
    private static Regex OneLine(GuestXml guest, string nicName) =>
        new($"^libvirt-shim: domain '{Regex.Escape(guest.Name)}': NIC [0-9a-f]{{2}}(:[0-9a-f]{{2}}){{5}} \\({Regex.Escape(nicName)}\\): \\S.*$");

    private void StartMustFail(ScenarioLog log, GuestXml guest, OwnedNic failingNic, params string[] mentions)
    {
        fixture.Main.Define(guest);
        CmdResult start = log.Step("virsh start (must fail)", () => fixture.Main.Start(guest.Name));
        Assert.False(start.Ok, $"virsh start {guest.Name} should fail: {start.Describe()}");
        string message = Expect.HookMessage(start, guest.Name);
        log.Say($"hook message: {message}");
        Assert.Matches(OneLine(guest, failingNic.Name), message);
        Assert.Contains(failingNic.Mac, message);
        foreach (string mention in mentions) Assert.Contains(mention, message);

        Assert.Equal("shut off", fixture.Main.DomState(guest.Name));
        Assert.False(fixture.Main.IsActive(guest.Name));
        Expect.NothingLeftOf(guest, fixture.Status(), IpLinks.All());
        var links = IpLinks.ByName();
        foreach (OwnedNic nic in guest.Owned)
            Assert.False(links.ContainsKey(nic.Name) && links[nic.Name].Alias?.Contains(guest.Uuid.ToString("D")) == true, $"{nic.Name} left behind");
    }
}
