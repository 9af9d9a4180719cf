using System.Text.Json;
using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Net;
using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Lifecycle;

/// <summary>
/// A name held for a definition records the lower device the NIC has on this host, Uplinks and Networks applied, as a
/// started NIC's does: status and the metrics then show the device that exists, and adopt takes what explain accepts.
/// </summary>
public class MappedLowerTests
{
    private static readonly Guid Web = TestDomains.Uuid(78);

    private static HookHarness Harness()
    {
        HookHarness h = HookHarness.Create("uplink0", "uplink1");
        h.Settings.Uplinks["eno1"] = "uplink0";
        h.Settings.Networks["physnet1"] = "uplink1";
        return h;
    }

    [Fact]
    public void SeedingRecordsTheMappedLowerDeviceAndStatusShowsItPresent()
    {
        using HookHarness h = Harness();
        string definition = TestDomains.Owned("web", Web,
            [new("52:54:00:aa:78:01", "mvtap1", "eno1"), new("52:54:00:aa:78:02", "mvtap2", Source: null, Network: "physnet1")]);
        File.WriteAllText(Path.Combine(h.Settings.LibvirtConfigDir, "web.xml"), definition);
        File.WriteAllText(h.SettingsFile, """{ "Uplinks": { "eno1": "uplink0" }, "Networks": { "physnet1": "uplink1" } }""");

        using (ShimContext context = h.OpenContext())
        using (ShimSession.Open(context)) { }

        NameState state = h.ReadState()!;
        Assert.Equal(("uplink0", "uplink1"), (state.Find("mvtap1")!.Lower, state.Find("mvtap2")!.Lower));
        HookResult status = HookHarness.Finish(h.StartProcess("status", "--json"), "");
        using JsonDocument json = JsonDocument.Parse(status.Stdout);
        var lowers = json.RootElement.GetProperty("lowerDevices").EnumerateArray()
            .Select(l => (l.GetProperty("name").GetString(), l.GetProperty("exists").GetBoolean())).Order().ToList();
        Assert.Equal([("uplink0", true), ("uplink1", true)], lowers);
    }

    /// <summary>adopt checks AllowedLowerDevices against the device on this host, as explain and prepare do.</summary>
    [Fact]
    public void AdoptChecksAndRecordsTheMappedLowerDevice()
    {
        using HookHarness h = Harness();
        h.Settings.AllowedLowerDevices = ["uplink0"];
        string xml = $"<domain><name>web</name><uuid>{Web}</uuid><devices><interface type='direct'><mac address='52:54:00:aa:78:03'/>" +
            "<source dev='eno1' mode='bridge'/></interface></devices></domain>";
        using ShimContext context = h.OpenContext();
        using ShimSession session = ShimSession.Open(context);

        string adopted = AdoptDomain.Run(session, context.Settings, context.Links, context.Now, XDocument.Parse(xml), new AdoptOptions(null, null));

        OwnedNic nic = Assert.Single(LibvirtShim.Domain.DomainReader.Read(XDocument.Parse(adopted)).OwnedNics);
        Assert.Equal("eno1", nic.Source);
        Assert.Equal((Holding.Defined, "uplink0"), (session.State.Find(nic.Name)!.Holding, session.State.Find(nic.Name)!.Lower));
    }

    [Fact]
    public void AttachToTheDefinitionRecordsTheMappedLowerDevice()
    {
        using HookHarness h = Harness();
        string xml = TestDomains.Owned("web", Web, [new("52:54:00:aa:78:01", "mvtap1", "eno1")]);
        var guest = new FakeGuest("web", null, xml);
        using ShimContext context = h.OpenContext();

        AttachedNic attached = AttachInterface.Run(context, guest,
            new AttachRequest("eno1", null, MacvtapMode.Bridge, new MacAddress(0x52_54_00_aa_78_09), null, Live: false, Config: true));

        Assert.Equal("uplink0", h.ReadState()!.Find(attached.Nic.Name)!.Lower);
    }
}
