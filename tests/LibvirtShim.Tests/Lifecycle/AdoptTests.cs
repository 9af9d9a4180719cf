using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Lifecycle;

public class AdoptTests
{
    private static string Adopt(HookHarness h, string xml, AdoptOptions? options = null)
    {
        using ShimContext context = h.OpenContext();
        using ShimSession session = ShimSession.Open(context);
        return AdoptDomain.Run(session, context.Settings, context.Links, context.Now, XDocument.Parse(xml, LoadOptions.PreserveWhitespace),
            options ?? new AdoptOptions(null, null));
    }

    private static string Mixed => File.ReadAllText(SampleFiles.Recording("mixed01-lifecycle/01-mixed01-prepare-begin.xml"));

    [Fact]
    public void HandsDirectNicsToTheHookKeepingEverythingElse()
    {
        using var h = HookHarness.Create();
        string adopted = Adopt(h, Mixed);

        DomainDescription d = DomainReader.Read(XDocument.Parse(adopted));
        Assert.Equal(["mvtap7", "mvtap0", "mvtap1"], d.OwnedNics.Select(n => n.Name));
        Assert.Equal(Holding.Defined, h.ReadState()!.Find("mvtap7")!.Holding);
        Assert.Equal(("uplink0", MacvtapMode.Bridge), (d.OwnedNics[1].Source, d.OwnedNics[1].Mode));
        Assert.Equal(("uplink0", MacvtapMode.Vepa), (d.OwnedNics[2].Source, d.OwnedNics[2].Mode));
        Assert.Empty(d.LibvirtMacvtaps);
        var nics = XDocument.Parse(adopted).Root!.Element("devices")!.Elements("interface").ToList();
        Assert.Equal(["ethernet", "ethernet", "network", "ethernet", "user"], nics.Select(n => (string?)n.Attribute("type")));
        Assert.Equal("0x02", (string?)nics[0].Element("address")!.Attribute("slot"));
        Assert.Equal("virtio", (string?)nics[1].Element("model")!.Attribute("type"));
        NameState state = h.ReadState()!;
        Assert.All(new[] { "mvtap0", "mvtap1" }, n => Assert.Equal(Holding.Defined, state.Find(n)!.Holding));
    }

    [Fact]
    public void AdoptingAnAdoptedDomainChangesNothing()
    {
        using var h = HookHarness.Create();
        string once = Adopt(h, Mixed);
        int held = h.ReadState()!.Count;
        string twice = Adopt(h, once);
        Assert.True(XNode.DeepEquals(XDocument.Parse(once), XDocument.Parse(twice)));
        Assert.Equal(held, h.ReadState()!.Count);
    }

    [Fact]
    public void AdoptsOnlyTheChosenMacsAndCanNameANetwork()
    {
        using var h = HookHarness.Create();
        string adopted = Adopt(h, Mixed, new AdoptOptions(new HashSet<MacAddress> { Mac("52:54:00:20:00:02") }, "physnet1"));
        DomainDescription d = DomainReader.Read(XDocument.Parse(adopted));
        OwnedNic nic = d.OwnedNics.Single(n => n.Mac == Mac("52:54:00:20:00:02"));
        Assert.Equal((null, "physnet1", MacvtapMode.Vepa), (nic.Source, nic.Network, nic.Mode));
        Assert.Single(d.LibvirtMacvtaps);
    }

    [Fact]
    public void AddsAUuidAndMacsWhereTheDefinitionHasNone()
    {
        using var h = HookHarness.Create();
        string adopted = Adopt(h, "<domain><name>bare</name><devices><interface type='direct'><source dev='uplink0'/></interface></devices>" +
            "</domain>");
        DomainDescription d = DomainReader.Read(XDocument.Parse(adopted));
        Assert.NotEqual(Guid.Empty, d.Uuid);
        Assert.StartsWith("52:54:00:", Assert.Single(d.OwnedNics).Mac.ToString());
        Assert.Equal(d.Uuid, h.ReadState()!.Find("mvtap0")!.Domain);
    }

    [Fact]
    public void CarriesADirectNicsMtuOverToItsLinkAndKeepsTheMtuElement()
    {
        using var h = HookHarness.Create();
        h.Ns.Ip("link", "set", "uplink0", "mtu", "9000");
        string adopted = Adopt(h, $"<domain><name>jumbo</name><uuid>{TestDomains.Uuid(40)}</uuid><devices>"
            + "<interface type='direct'><mac address='52:54:00:00:40:01'/><source dev='uplink0' mode='bridge'/><mtu size='4000'/>" +
                "<model type='virtio'/></interface>"
            + "<interface type='direct'><mac address='52:54:00:00:40:02'/><source dev='uplink0' mode='bridge'/></interface></devices></domain>");

        DomainDescription d = DomainReader.Read(XDocument.Parse(adopted));
        Assert.Equal([4000u, 0u], d.OwnedNics.Select(n => n.Mtu));
        Assert.Equal("4000", (string?)XDocument.Parse(adopted).Root!.Element("devices")!.Element("interface")!.Element("mtu")!.Attribute("size"));
        Assert.Equal(0, h.Run("jumbo", "prepare", "begin", adopted).ExitCode);
        Assert.Equal([4000, 9000], new[] { d.OwnedNics[0].Name, d.OwnedNics[1].Name }.Select(n => h.Ns.Link(n).Mtu));
        Assert.Equal(0, h.Run("jumbo", "release", "end", adopted).ExitCode);
    }

    [Theory]
    [InlineData("<interface type='direct'><mac address='52:54:00:00:00:01'/><source dev='uplink0'/><virtualport type='802.1Qbh'/>" +
        "</interface>", "virtualport")]
    [InlineData("<interface type='direct'><mac address='52:54:00:00:00:01'/><source mode='bridge'/></interface>", "has no <source dev")]
    [InlineData("<interface type='direct'><mac address='52:54:00:00:00:01'/><source dev='uplink0'/><mtu size='jumbo'/></interface>",
        "has <mtu size='jumbo'>, not an MTU (a whole number from 68 to 65535)")]
    public void RefusesNicsItCannotTakeOver(string nic, string expected)
    {
        using var h = HookHarness.Create();
        var e = Assert.Throws<ShimFailure>(() => Adopt(h, $"<domain><name>x</name><uuid>{Guid.NewGuid()}</uuid><devices>{nic}</devices></domain>"));
        Assert.Contains(expected, e.Message);
        Assert.Empty(h.ReadState()!.Records);
    }

    private static string Domain(string links, string nics) =>
        $"<domain><name>x</name><uuid>{TestDomains.Uuid(90)}</uuid><metadata><shim:macvtap xmlns:shim='urn:libvirt-shim:macvtap:1'>" +
        $"{links}</shim:macvtap></metadata><devices>{nics}</devices></domain>";

    private const string Direct1 = "<interface type='direct'><mac address='52:54:00:00:00:01'/><source dev='uplink0' mode='bridge'/></interface>";
    private const string Direct2 = "<interface type='direct'><mac address='52:54:00:00:00:02'/><source dev='uplink0' mode='vepa'/></interface>";

    /// <summary>A &lt;shim:link&gt; left behind for a NIC that is &lt;interface type='direct'&gt; again: adopting the NIC replaces it.</summary>
    [Fact]
    public void AStaleLinkOfANicBeingAdoptedIsReplaced()
    {
        using var h = HookHarness.Create();
        string adopted = Adopt(h, Domain("<shim:link mac='52:54:00:00:00:01' source='gone9' mode='private' mtu='1400'/>", Direct1));

        OwnedNic nic = Assert.Single(DomainReader.Read(XDocument.Parse(adopted)).OwnedNics);
        Assert.Equal(("uplink0", MacvtapMode.Bridge, 0u), (nic.Source, nic.Mode, nic.Mtu));
        Assert.Single(XDocument.Parse(adopted).Descendants(ShimMetadata.Link));
    }

    /// <summary>What adopt refuses names the domain, and a stale &lt;shim:link&gt; is called stale, not something adopt would convert.</summary>
    [Theory]
    [InlineData("<shim:link mac='52:54:00:00:00:01' source='uplink0' mode='bridge'/>", Direct1 + Direct2, "52:54:00:00:00:02",
        "domain 'x': NIC 52:54:00:00:00:01: its <shim:link> is stale: the NIC is <interface type='direct'>, which libvirt creates itself")]
    [InlineData("<shim:link mac='52:54:00:00:00:09' source='uplink0' mode='bridge'/>", Direct1, null,
        "domain 'x': NIC 52:54:00:00:00:09: the metadata names this MAC but no <interface> has it")]
    [InlineData("<shim:link mac='52:54:00:00:00:03' source='uplink0' mode='sideways'/>",
        Direct1 + "<interface type='ethernet'><mac address='52:54:00:00:00:03'/><target dev='mvtap3' managed='no'/></interface>", null,
        "domain 'x': NIC 52:54:00:00:00:03: unknown macvtap mode 'sideways'")]
    public void EveryRefusalNamesTheDomainAndAStaleLinkIsCalledStale(string links, string nics, string? mac, string expected)
    {
        using var h = HookHarness.Create();
        var options = new AdoptOptions(mac is null ? null : new HashSet<MacAddress> { Mac(mac) }, null);

        var e = Assert.Throws<ShimFailure>(() => Adopt(h, Domain(links, nics), options));

        Assert.StartsWith(expected, ShimFailure.LineFor(e, advise: true));
        Assert.DoesNotContain("adopt converts", ShimFailure.LineFor(e, advise: true));
        Assert.Empty(h.ReadState()!.Records);
    }

    [Fact]
    public void AnAdoptedDomainStartsAndKeepsItsNamesAfterRelease()
    {
        using var h = HookHarness.Create();
        string adopted = Adopt(h, Mixed.Replace("<interface type='network'>", "<interface type='user'>"));
        Assert.Equal(0, h.Run("mixed01", "prepare", "begin", adopted).ExitCode);
        Assert.Equal(0, h.Run("mixed01", "release", "end", adopted).ExitCode);
        NameState state = h.ReadState()!;
        Assert.Equal(Holding.Defined, state.Find("mvtap0")!.Holding);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
    }

    [Fact]
    public void ConcurrentAdoptsNeverAssignTheSameName()
    {
        using var h = HookHarness.Create();
        var files = Enumerable.Range(0, 8).Select(i =>
        {
            string path = Path.Combine(h.Root, $"d{i}.xml");
            File.WriteAllText(path, Mixed.Replace("ca8f3bc5-7739-4600-aee1-2b8d0e29bb59", TestDomains.Uuid(i).ToString())
                .Replace("<name>mixed01", $"<name>d{i}").Replace("mvtap7", $"mvtap{100 + i}"));
            return path;
        }).ToList();
        var results = files.Select(f => h.StartProcess("adopt", f)).ToList().Select(p => HookHarness.Finish(p, "")).ToList();
        Assert.All(results, r => Assert.Equal((0, ""), (r.ExitCode, r.Stderr)));
        var names = results.SelectMany(r => DomainReader.Read(XDocument.Parse(r.Stdout)).OwnedNics.Select(n => n.Name)).ToList();
        Assert.Equal(24, names.Distinct().Count());
    }

    private static MacAddress Mac(string text) => MacAddress.TryParse(text, out var m) ? m : throw new ArgumentException(text);
}
