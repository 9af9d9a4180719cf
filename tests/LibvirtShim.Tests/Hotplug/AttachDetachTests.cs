using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Libvirt;
using LibvirtShim.Lifecycle;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Hotplug;

/// <summary>
/// attach-interface and detach-interface: the links and the state for real (a network namespace, the state file and its
/// lock), the guest as libvirt would hold it (<see cref="FakeGuest"/>), failures injected at every libvirt step.
/// </summary>
public class AttachDetachTests
{
    private static readonly Guid Web = TestDomains.Uuid(61);
    private const string Mac = "52:54:00:aa:61:09";

    private static string Running => TestDomains.Owned("web", Web, [new("52:54:00:aa:61:01", "mvtap1")]);

    private static FakeGuest Guest(bool running = true, bool persistent = true) =>
        new("web", running ? Running : null, persistent ? Running : null);

    private static AttachRequest Request(bool live = false, bool config = false, string? source = "uplink0", string? network = null,
        string mac = Mac) =>
        new(source, network, MacvtapMode.Vepa, MacAddress.TryParse(mac, out MacAddress m) ? m : null, null, live, config);

    private static DomainDescription Read(FakeGuest guest, GuestScope side) => DomainReader.Read(XDocument.Parse(guest.Xml(side)));

    [Fact]
    public void AttachToTheRunningGuestMakesTheLinkAsPrepareWouldPlugsItAndNamesItInTheLiveMetadata()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Running).ExitCode);
        FakeGuest guest = Guest();
        using ShimContext context = h.OpenContext();

        AttachedNic attached = AttachInterface.Run(context, guest, Request());

        Assert.Equal(GuestScope.Live, attached.Scope);
        string name = attached.Nic.Name;
        Assert.True(context.Scheme.IsManaged(name));
        IpLink link = h.Ns.Link(name);
        Assert.Equal(("macvtap", Mac, "uplink0", "vepa", true), (link.Kind, link.Address, link.Lower, link.Mode, link.IsUp));
        Assert.Equal((LinkMarker.For(h.Settings).Alias(Web), LinkMarker.For(h.Settings).Group(Web)), (link.Alias, link.GroupNumber));
        NameRecord record = h.ReadState()!.Find(name)!;
        Assert.Equal((Holding.Created, Web, link.Index, false), (record.Holding, record.Domain, record.Ifindex, record.InDefinitionToo));
        OwnedNic live = Read(guest, GuestScope.Live).OwnedNics.Single(n => n.Mac.ToString() == Mac);
        Assert.Equal((name, "uplink0", MacvtapMode.Vepa), (live.Name, live.Source, live.Mode));
        Assert.Equal(2, Read(guest, GuestScope.Live).OwnedNics.Count);
        Assert.Single(Read(guest, GuestScope.Config).OwnedNics);
        Assert.Equal(["get-metadata Live", "set-metadata Live"], guest.Calls.Skip(1));
    }

    /// <summary>A source-mode NIC hot-plugged with its list: the link holds it, the metadata keeps it, and its node names its device.</summary>
    [Fact]
    public void ASourceModeNicIsPluggedWithItsListAndItsNode()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Running).ExitCode);
        FakeGuest guest = Guest();
        using ShimContext context = h.OpenContext();
        var sources = new MacAddressSet([new MacAddress(0x52_54_00_cc_61_01), new MacAddress(0x52_54_00_cc_61_02)]);

        AttachedNic attached = AttachInterface.Run(context, guest, Request(live: true) with { Mode = MacvtapMode.Source, SourceMacs = sources });

        using (var table = h.Ns.OpenLinkTable()) Assert.Equal(sources, table.Find([attached.Nic.Name])[0]!.Value.SourceMacs);
        Assert.Equal(sources, Read(guest, GuestScope.Live).OwnedNics.Single(n => n.Mac.ToString() == Mac).SourceMacs);
        int index = h.Ns.Link(attached.Nic.Name).Index;
        Assert.True(Interop.Files.Lstat(h.Devices.Taps.NodeOf(index)) is { IsCharacterDevice: true });
    }

    /// <summary>A NIC hot-plugged with --guard ip --ips: its chain is on the link before it is plugged, and the metadata carries both.</summary>
    [Fact]
    public void AGuardedNicIsPluggedWithItsGuardInTheKernelAndInTheMetadata()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Running).ExitCode);
        FakeGuest guest = Guest();
        using ShimContext context = h.OpenContext();
        List<IpPrefix> ips = DomainReader.ParseIps("192.0.2.61, 2001:db8::61", "NIC");

        AttachedNic attached = AttachInterface.Run(context, guest, Request(live: true) with { Guard = GuardMode.Ip, Ips = ips });

        NftChain chain = Assert.Single(NftView.Of(h.Ns).EgressChains);
        Assert.Equal((attached.Nic.Name, "drop"), (chain.Device, chain.Policy));
        OwnedNic live = Read(guest, GuestScope.Live).OwnedNics.Single(n => n.Mac.ToString() == Mac);
        Assert.Equal((GuardMode?)GuardMode.Ip, live.Guard);
        Assert.Equal(ips, live.Ips);
        Assert.Equal(GuardMode.Ip, h.ReadState()!.Find(attached.Nic.Name)!.Guard);
    }

    [Fact]
    public void NeitherLiveNorConfigMeansTheDefinitionOfAGuestThatDoesNotRun()
    {
        using var h = HookHarness.Create();
        FakeGuest guest = Guest(running: false);
        using ShimContext context = h.OpenContext();

        AttachedNic attached = AttachInterface.Run(context, guest, Request());

        Assert.Equal(GuestScope.Config, attached.Scope);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
        NameRecord record = h.ReadState()!.Find(attached.Nic.Name)!;
        Assert.Equal((Holding.Defined, Web), (record.Holding, record.Domain));
        Assert.Contains(Read(guest, GuestScope.Config).OwnedNics, n => n.Name == attached.Nic.Name);
        ShimFailure e = Assert.Throws<ShimFailure>(() => AttachInterface.Run(context, guest, Request(live: true, mac: "52:54:00:aa:61:0a")));
        Assert.Equal("domain 'web' is not running (--live needs a running guest)", e.Message);
    }

    [Fact]
    public void LiveAndConfigThenDetachEachSideKeepsTheNameForWhatStillUsesIt()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Running).ExitCode);
        FakeGuest guest = Guest();
        using ShimContext context = h.OpenContext();
        string name = AttachInterface.Run(context, guest, Request(live: true, config: true)).Nic.Name;
        NameRecord record = h.ReadState()!.Find(name)!;
        Assert.Equal((Holding.Created, true), (record.Holding, record.InDefinitionToo));
        Assert.Contains(Read(guest, GuestScope.Config).OwnedNics, n => n.Name == name);

        OwnedNic detached = DetachInterface.Run(context, guest, new DetachRequest(MacOf(Mac), Live: true, Config: false, TimeSpan.FromSeconds(5)));

        Assert.Equal(name, detached.Name);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Name == name);
        Assert.Equal(Holding.Defined, h.ReadState()!.Find(name)!.Holding);
        Assert.DoesNotContain(Read(guest, GuestScope.Live).OwnedNics, n => n.Name == name);
        Assert.Contains(Read(guest, GuestScope.Config).OwnedNics, n => n.Name == name);

        DetachInterface.Run(context, guest, new DetachRequest(MacOf(Mac), Live: false, Config: true, TimeSpan.FromSeconds(5)));

        Assert.Null(h.ReadState()!.Find(name));
        Assert.Null(HotplugXml.FindInterface(XElement.Parse(guest.Xml(GuestScope.Config)), MacOf(Mac)));
        Assert.True(h.ReadState()!.Find("mvtap1")!.Holding == Holding.Created, "the guest's other NIC is untouched");
        Assert.NotNull(h.Ns.Links().SingleOrDefault(l => l.Name == "mvtap1"));
    }

    [Theory]
    [InlineData("attach", 1, "cannot hot-plug it: virDomainAttachDeviceFlags: internal error: injected failure")]
    [InlineData("get-metadata", 2, "cannot add its <shim:link> to the definition's metadata: virDomainGetMetadata: internal error: injected failure")]
    [InlineData("set-metadata", 1,
        "cannot add its <shim:link> to the running guest's metadata: virDomainSetMetadata: internal error: injected failure")]
    [InlineData("set-metadata", 2, "cannot add its <shim:link> to the definition's metadata: virDomainSetMetadata: internal error: injected failure")]
    public void AFailureAtAnyStepUndoesAllOfIt(string call, int failingSide, string cause)
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Running).ExitCode);
        FakeGuest guest = Guest();
        guest.Failing[call] = (GuestScope)failingSide;
        string liveBefore = guest.Xml(GuestScope.Live), configBefore = guest.Xml(GuestScope.Config);
        var linksBefore = h.Ns.Links();
        using ShimContext context = h.OpenContext();

        ShimFailure e = Assert.Throws<ShimFailure>(() => AttachInterface.Run(context, guest, Request(live: true, config: true)));

        Assert.Matches($"^domain 'web': NIC {Mac} \\(mvtap\\d+\\): {System.Text.RegularExpressions.Regex.Escape(cause)}$", e.Message);
        Assert.Equal(linksBefore, h.Ns.Links());
        Assert.Equal(["mvtap1"], h.ReadState()!.Records.Select(r => r.Name));
        guest.Failing.Clear();
        Assert.True(XNode.DeepEquals(XElement.Parse(liveBefore), XElement.Parse(guest.Xml(GuestScope.Live))), guest.Xml(GuestScope.Live));
        Assert.True(XNode.DeepEquals(XElement.Parse(configBefore), XElement.Parse(guest.Xml(GuestScope.Config))), guest.Xml(GuestScope.Config));
    }

    [Fact]
    public void APrepareRefusalIsTheSameLineAsAtStartAndHoldsNothing()
    {
        using var h = HookHarness.Create();
        FakeGuest guest = Guest();
        using ShimContext context = h.OpenContext();

        ShimFailure e = Assert.Throws<ShimFailure>(() => AttachInterface.Run(context, guest, Request(live: true, source: "nosuch0")));

        Assert.Matches($"^domain 'web': NIC {Mac} \\(mvtap\\d+\\): lower device nosuch0 does not exist on this host$", e.Message);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
        Assert.Empty(guest.Calls);
        Assert.Empty(h.ReadState()?.Records ?? []);

        ShimFailure network = Assert.Throws<ShimFailure>(() =>
            AttachInterface.Run(context, guest, Request(live: true, source: null, network: "physnet9")));
        Assert.Equal($"domain 'web': NIC {Mac} (mvtap0): network 'physnet9' is not in this host's Networks setting", network.Message);
    }

    [Fact]
    public void AMacTheGuestAlreadyHasIsRefused()
    {
        using var h = HookHarness.Create();
        using ShimContext context = h.OpenContext();
        ShimFailure e = Assert.Throws<ShimFailure>(() => AttachInterface.Run(context, Guest(), Request(mac: "52:54:00:aa:61:01")));
        Assert.Equal("domain 'web': NIC 52:54:00:aa:61:01: the running guest already has a NIC with this MAC", e.Message);
    }

    [Fact]
    public void DetachWaitsUntilTheGuestLetsTheNicGoAndThenLeavesNothing()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Running).ExitCode);
        FakeGuest guest = Guest();
        using ShimContext context = h.OpenContext();
        string name = AttachInterface.Run(context, guest, Request()).Nic.Name;
        guest.LiveReadsToDetach = 3;

        DetachInterface.Run(context, guest, new DetachRequest(MacOf(Mac), false, false, TimeSpan.FromSeconds(10)));

        Assert.DoesNotContain(h.Ns.Links(), l => l.Name == name);
        Assert.Null(h.ReadState()!.Find(name));
        Assert.Single(Read(guest, GuestScope.Live).OwnedNics);
        Assert.False(HotplugXml.HasLink(guest.Metadata(GuestScope.Live), MacOf(Mac)));
    }

    [Fact]
    public void AGuestThatKeepsTheNicLeavesLinkNameAndMetadataAndASecondDetachFinishes()
    {
        using var h = HookHarness.Create();
        FakeGuest guest = Guest();
        using ShimContext context = h.OpenContext();
        string name = AttachInterface.Run(context, guest, Request()).Nic.Name;
        guest.LiveReadsToDetach = -1;

        ShimFailure e = Assert.Throws<ShimFailure>(() =>
            DetachInterface.Run(context, guest, new DetachRequest(MacOf(Mac), true, false, TimeSpan.FromMilliseconds(300))));

        Assert.Equal($"domain 'web': NIC {Mac} ({name}): the guest has not let the NIC go after 0 s (libvirt still lists it); " +
                     "its link, name and metadata are kept: run detach-interface again once the guest has released it", e.Message);
        Assert.NotNull(h.Ns.Links().SingleOrDefault(l => l.Name == name));
        Assert.Equal(Holding.Created, h.ReadState()!.Find(name)!.Holding);
        Assert.True(HotplugXml.HasLink(guest.Metadata(GuestScope.Live), MacOf(Mac)));

        guest.LiveReadsToDetach = 0;
        DetachInterface.Run(context, guest, new DetachRequest(MacOf(Mac), true, false, TimeSpan.FromSeconds(5)));
        Assert.DoesNotContain(h.Ns.Links(), l => l.Name == name);
        Assert.Null(h.ReadState()!.Find(name));
    }

    [Fact]
    public void ANicThatIsNotTheHooksIsNotDetachedAndAForeignLinkOnTheNameIsLeftAlone()
    {
        using var h = HookHarness.Create();
        string xml = TestDomains.Owned("web", Web, [],
            "    <interface type='direct'><mac address='52:54:00:aa:61:0b'/><source dev='uplink0' mode='bridge'/></interface>\n");
        var guest = new FakeGuest("web", xml, null);
        using ShimContext context = h.OpenContext();
        ShimFailure e = Assert.Throws<ShimFailure>(() =>
            DetachInterface.Run(context, guest, new DetachRequest(MacOf("52:54:00:aa:61:0b"), false, false, TimeSpan.FromSeconds(1))));
        Assert.Equal("domain 'web': NIC 52:54:00:aa:61:0b is not libvirt-shim's (no <shim:link> names it in the running guest); " +
            "use virsh detach-interface", e.Message);
        Assert.Empty(guest.Calls);
        ShimFailure none = Assert.Throws<ShimFailure>(() =>
            DetachInterface.Run(context, guest, new DetachRequest(MacOf(Mac), false, false, TimeSpan.FromSeconds(1))));
        Assert.Equal($"domain 'web': no NIC has MAC {Mac}", none.Message);
    }

    [Fact]
    public void AnAttachLibvirtsTestDriverRefusesUndoesTheLinkAndTheName()
    {
        using var h = HookHarness.Create();
        using LibvirtGuest guest = LibvirtGuest.Open("test:///default", "test");
        using ShimContext context = h.OpenContext();
        var request = new AttachRequest("uplink0", null, MacvtapMode.Bridge, MacOf("52:54:00:aa:00:07"), null, Live: true, Config: false);

        ShimFailure e = Assert.Throws<ShimFailure>(() => AttachInterface.Run(context, guest, request));

        Assert.Equal("domain 'test': NIC 52:54:00:aa:00:07 (mvtap0): cannot hot-plug it: virDomainAttachDeviceFlags: " +
                     "this function is not supported by the connection driver: virDomainAttachDeviceFlags", e.Message);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
        Assert.Empty(h.ReadState()!.Records);
        Assert.Null(guest.Metadata(GuestScope.Live));
    }

    internal static MacAddress MacOf(string text) => MacAddress.TryParse(text, out MacAddress mac) ? mac : throw new ArgumentException(text);
}
