using LibvirtShim.Lifecycle;
using LibvirtShim.Netlink;
using LibvirtShim.Tests.Operator;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Hook;

/// <summary>
/// A lower device that cannot carry a macvtap is refused before anything is created, in one line saying why and what to
/// give instead (the kernel says "Device or resource busy" for a bridge port, "Invalid argument" for loopback, and puts a
/// macvtap asked for on a macvlan silently on the device below); one that is merely down is brought up, as libvirt does
/// for its direct NICs.
/// </summary>
public class LowerDeviceTests
{
    private static readonly Guid Web = TestDomains.Uuid(73);

    private const string GiveEthernet = "give an Ethernet device (the host's uplink, a bridge, a bond) as the source";

    public static TheoryData<string, string[], string, string> Unfit => new()
    {
        { "bridge port", ["link add br0 type bridge", "link set uplink0 master br0"], "uplink0",
            "lower device uplink0 is a port of bridge br0: give br0 as the source" },
        { "macvlan", ["link add link uplink0 name mv0 type macvlan mode bridge"], "mv0",
            "lower device mv0 is itself a macvlan (on uplink0): give uplink0 as the source" },
        { "macvtap", ["link add link uplink0 name mvt0 type macvtap"], "mvt0",
            "lower device mvt0 is itself a macvtap (on uplink0): give uplink0 as the source" },
        { "loopback", [], "lo", $"lower device lo is the loopback device: {GiveEthernet}" },
        { "tun", ["tuntap add dev tun0 mode tun"], "tun0", $"lower device tun0 is not an Ethernet device (link type none): {GiveEthernet}" },
    };

    [Theory]
    [MemberData(nameof(Unfit))]
    public void PrepareRefusesALowerDeviceThatCannotCarryAMacvtapAndCreatesNothing(string kind, string[] setup, string lower, string reason)
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        foreach (string command in setup) h.Ns.Ip(command.Split(' '));
        var before = h.Ns.Links().Select(l => l.Name).Order().ToList();
        string xml = TestDomains.Owned("web", Web, [new("52:54:00:aa:73:01", "mvtap1", "uplink1"), new("52:54:00:aa:73:02", "mvtap2", lower)]);

        HookResult result = h.Run("web", "prepare", "begin", xml);

        Assert.True(result.ExitCode == 1, kind);
        Assert.Equal($"libvirt-shim: domain 'web': NIC 52:54:00:aa:73:02 (mvtap2): {reason}\n", result.Stderr);
        Assert.Equal(before, h.Ns.Links().Select(l => l.Name).Order().ToList());
    }

    [Fact]
    public void ExplainSaysWhyAndWhatToGiveInstead()
    {
        using var h = HookHarness.Create();
        h.Ns.Ip("link", "add", "br0", "type", "bridge");
        h.Ns.Ip("link", "set", "uplink0", "master", "br0");
        string xml = TestDomains.Owned("web", Web, [new("52:54:00:aa:73:01", "mvtap1", "uplink0")]);
        using LibvirtShim.Session.ShimContext context = h.OpenContext();

        LibvirtShim.Reports.PreparePreview preview = LibvirtShim.Reports.PreparePreviewer.Preview(context,
            LibvirtShim.Domain.DomainReader.Read(System.Xml.Linq.XDocument.Parse(xml)));

        Assert.False(preview.WouldSucceed);
        Assert.Equal("domain 'web': NIC 52:54:00:aa:73:01 (mvtap1): lower device uplink0 is a port of bridge br0: give br0 as the source",
            preview.Failure!.Message);
        Assert.Equal("give br0 as the source (the NIC's <shim:link source=...>, or Uplinks or Networks on this host)", preview.Failure.Advice);
    }

    [Fact]
    public void ALowerDeviceThatIsDownIsBroughtUpAndTheLogSaysSo()
    {
        using var h = HookHarness.Create();
        h.Ns.Ip("link", "set", "uplink0", "down");
        string xml = TestDomains.Owned("web", Web, [new("52:54:00:aa:73:01", "mvtap1", "uplink0"), new("52:54:00:aa:73:02", "mvtap2", "uplink0")]);

        HookResult result = h.Run("web", "prepare", "begin", xml);

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        Assert.True(h.Ns.Link("uplink0").IsUp);
        Assert.Single(File.ReadAllLines(h.Settings.LogFile),
            l => l.Contains("Lower device uplink0 was down: brought it up", StringComparison.Ordinal));
    }

    /// <summary>Ports of a bond or team, and ipvlans, which this kernel cannot make: the same rule from the link's facts.</summary>
    [Theory]
    [InlineData("bond", "", "lower device eth1 is a port of bond bond0: give bond0 as the source")]
    [InlineData("team", "", "lower device eth1 is a port of team team0: give team0 as the source")]
    [InlineData("openvswitch", "", "lower device eth1 is a port of openvswitch ovs-system, which takes every frame it receives: take it out of")]
    [InlineData("vrf", "", null)]
    [InlineData(null, "ipvlan", "lower device eth1 is an ipvlan (on eth0): give a device that carries no ipvlan as the source")]
    [InlineData(null, "ipvtap", "lower device eth1 is an ipvlan (on eth0): give a device that carries no ipvlan as the source")]
    [InlineData(null, "vlan", null)]
    [InlineData(null, "bridge", null)]
    public void EveryKindOfPortAndStackedDeviceIsJudgedFromItsFacts(string? masterKind, string kind, string? reason)
    {
        var eth0 = new Link(2, "eth0", null, 0, default, 0, null, true, null, Type: 1);
        Link? master = masterKind is null ? null
            : new Link(5, masterKind switch { "openvswitch" => "ovs-system", "vrf" => "vrf0", _ => masterKind + "0" }, masterKind, 0,
                default, 0, null, true, null, Type: 1);
        var eth1 = new Link(3, "eth1", kind.Length > 0 ? kind : null, kind.Length > 0 ? 2 : 0, default, 0, null, true, null,
            Master: master?.Index ?? 0, Type: 1);
        var related = new Dictionary<int, Link> { [2] = eth0 };
        if (master is { } m) related[m.Index] = m;

        LowerDeviceProblem? problem = LowerDevices.Unfit(eth1, related);

        if (reason is null) Assert.Null(problem);
        else Assert.StartsWith(reason, problem!.Value.Line);
    }

    [Fact]
    public void DoctorCallsAPortOfABridgeUnfit()
    {
        using var h = HookHarness.Create();
        h.Ns.Ip("link", "add", "br0", "type", "bridge");
        h.Ns.Ip("link", "set", "uplink0", "master", "br0");
        h.Settings.AllowedLowerDevices = ["uplink0", "br0"];
        using var host = new FakeHost();
        var doctor = host.Host with { OpenLinks = h.Ns.OpenLinkTable, LoadSettings = () => h.Settings };

        var checks = LibvirtShim.Reports.Doctor.DoctorChecks.Run(doctor);

        var unfit = Assert.Single(checks, c => c.Detail.StartsWith("uplink0 (AllowedLowerDevices)", StringComparison.Ordinal));
        Assert.Equal("uplink0 (AllowedLowerDevices) is a port of bridge br0: guests using it do not start", unfit.Detail);
        Assert.Equal(LibvirtShim.Reports.Doctor.CheckStatus.Fail, unfit.Status);
        Assert.StartsWith("give br0 as the source", unfit.Fix);
    }
}
