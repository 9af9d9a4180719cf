using System.Text;
using LibvirtShim.Domain;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Domain;

public class DomainReaderTests
{
    private static DomainDescription Read(string xml) => DomainReader.Read(DomainXml.Parse(Encoding.UTF8.GetBytes(xml)));

    private static string Domain(string devices, string metadata = "") => $"""
        <domain type='kvm'>
          <name>web1</name>
          <uuid>0b6a3a4e-2f4f-4c43-9a3a-6f1d5d8e2a11</uuid>
          <metadata>{metadata}</metadata>
          <devices>{devices}</devices>
        </domain>
        """;

    private static string Link(string mac, string attrs = "source='uplink0' mode='bridge'") =>
        $"<shim:macvtap xmlns:shim='urn:libvirt-shim:macvtap:1'><shim:link mac='{mac}' {attrs}/></shim:macvtap>";

    private static string Ethernet(string mac, string dev) =>
        $"<interface type='ethernet'><mac address='{mac}'/><target dev='{dev}' managed='no'/></interface>";

    [Fact]
    public void ReadsTheRecordedMixedGuestAtPrepare()
    {
        var d = DomainReader.Read(DomainXml.Parse(SampleFiles.Bytes(SampleFiles.Recording("mixed01-lifecycle/01-mixed01-prepare-begin.xml"))));
        Assert.Equal("mixed01", d.Name);
        Assert.Equal(Guid.Parse("ca8f3bc5-7739-4600-aee1-2b8d0e29bb59"), d.Uuid);
        var nic = Assert.Single(d.OwnedNics);
        Assert.Equal(new OwnedNic(Mac("52:54:00:aa:00:07"), "mvtap7", "uplink0", null, MacvtapMode.Bridge), nic);
        Assert.Equal([null, "webfront0"], d.LibvirtMacvtaps.Select(n => n.Name));
    }

    [Fact]
    public void ReadsLibvirtsNamesOnceTheGuestRuns()
    {
        var d = DomainReader.Read(DomainXml.Parse(SampleFiles.Bytes(SampleFiles.Recording("mixed01-lifecycle/02-mixed01-start-begin.xml"))));
        Assert.Equal(["macvtap385", "webfront0", "macvtap386"], d.LibvirtMacvtaps.Select(n => n.Name));
        Assert.Equal(MacvtapMode.Vepa, d.LibvirtMacvtaps[1].Mode);
        Assert.All(d.LibvirtMacvtaps, n => Assert.Equal("uplink0", n.Lower));
    }

    [Fact]
    public void ReadsANetworkNicFromItsActualElementInAStatusFile()
    {
        var d = Read($"""
            <domstatus state='running'><domain type='kvm'><name>p</name><uuid>0b6a3a4e-2f4f-4c43-9a3a-6f1d5d8e2a12</uuid><devices>
              <interface type='network'><mac address='52:54:00:00:00:01'/><source network='pool'/>
                <actual type='direct'><source dev='eno1' mode='vepa'/></actual><target dev='macvtap9'/></interface>
              <interface type='network'><mac address='52:54:00:00:00:02'/><source network='nat'/>
                <actual type='bridge'/><target dev='vnet0'/></interface>
            </devices></domain></domstatus>
            """);
        var nic = Assert.Single(d.LibvirtMacvtaps);
        Assert.Equal(new LibvirtMacvtap(Mac("52:54:00:00:00:01"), "macvtap9", "eno1", MacvtapMode.Vepa, ThroughNetwork: true), nic);
    }

    [Fact]
    public void ReadsANetworkInsteadOfASource()
    {
        var d = Read(Domain(Ethernet("52:54:00:aa:00:01", "mvtap1"), Link("52:54:00:AA:00:01", "network='physnet1' mode='passthru'")));
        Assert.Equal(new OwnedNic(Mac("52:54:00:aa:00:01"), "mvtap1", null, "physnet1", MacvtapMode.Passthru), d.OwnedNics[0]);
    }

    [Theory]
    [InlineData("", 0u, true)]
    [InlineData("mtu='9000'", 9000u, true)]
    [InlineData("mtu='68' allmulticast='off'", 68u, false)]
    [InlineData("mtu='65535' allmulticast='no'", 65535u, false)]
    [InlineData("allmulticast='on'", 0u, true)]
    [InlineData("allmulticast='yes'", 0u, true)]
    public void ReadsTheMtuAndAllmulticast(string attributes, uint mtu, bool allMulticast)
    {
        var d = Read(Domain(Ethernet("52:54:00:aa:00:01", "mvtap1"), Link("52:54:00:aa:00:01", $"source='uplink0' mode='bridge' {attributes}")));
        Assert.Equal((mtu, allMulticast), (d.OwnedNics[0].Mtu, d.OwnedNics[0].AllMulticast));
    }

    [Theory]
    [InlineData("mtu='0'", "mtu='0' is not an MTU (a whole number from 68 to 65535)")]
    [InlineData("mtu='-1500'", "mtu='-1500' is not an MTU")]
    [InlineData("mtu='+1500'", "mtu='+1500' is not an MTU")]
    [InlineData("mtu=' 1500'", "mtu=' 1500' is not an MTU")]
    [InlineData("mtu='1500.0'", "mtu='1500.0' is not an MTU")]
    [InlineData("mtu=''", "mtu='' is not an MTU")]
    [InlineData("mtu='67'", "mtu='67' is not an MTU")]
    [InlineData("mtu='65536'", "mtu='65536' is not an MTU")]
    [InlineData("mtu='99999999999999999999'", "mtu='99999999999999999999' is not an MTU")]
    [InlineData("allmulticast='true'", "allmulticast='true' is neither on nor off (nor yes, no)")]
    [InlineData("allmulticast='OFF'", "allmulticast='OFF' is neither on nor off")]
    [InlineData("allmulticast=''", "allmulticast='' is neither on nor off")]
    public void RefusesAnInvalidMtuOrAllmulticastNamingTheNic(string attributes, string expected)
    {
        var e = Assert.Throws<ShimFailure>(() =>
            Read(Domain(Ethernet("52:54:00:aa:00:01", "mvtap1"), Link("52:54:00:aa:00:01", $"source='uplink0' mode='bridge' {attributes}"))));
        Assert.StartsWith("NIC 52:54:00:aa:00:01 (mvtap1): ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void LeavesEthernetNicsWithoutMetadataAlone()
    {
        var d = Read(Domain(Ethernet("52:54:00:aa:00:01", "tap-by-admin")));
        Assert.Empty(d.OwnedNics);
    }

    [Theory]
    [InlineData("<shim:link mac='52:54:00:aa:00:09' source='uplink0'/>", "no <interface> has it")]
    [InlineData("<shim:link mac='zz' source='uplink0'/>", "not a MAC address")]
    [InlineData("<shim:link mac='52:54:00:aa:00:01' source='uplink0' mode='turbo'/>", "unknown macvtap mode 'turbo'")]
    [InlineData("<shim:link mac='52:54:00:aa:00:01'/>", "exactly one of source")]
    [InlineData("<shim:link mac='52:54:00:aa:00:01' source='a' network='b'/>", "exactly one of source")]
    [InlineData("<shim:link mac='52:54:00:aa:00:01' source='../etc'/>", "contains '/'")]
    [InlineData("<shim:link mac='52:54:00:aa:00:01' source='x'/><shim:link mac='52:54:00:aa:00:01' source='y'/>", "twice")]
    public void RefusesBrokenMetadata(string links, string expected)
    {
        string xml = Domain(Ethernet("52:54:00:aa:00:01", "mvtap1"), $"<shim:macvtap xmlns:shim='urn:libvirt-shim:macvtap:1'>{links}</shim:macvtap>");
        var e = Assert.Throws<ShimFailure>(() => Read(xml));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("<interface type='direct'><mac address='52:54:00:aa:00:01'/><source dev='uplink0'/></interface>", "not <interface type='ethernet'>")]
    [InlineData("<interface type='ethernet'><mac address='52:54:00:aa:00:01'/><target dev='mvtap1'/></interface>", "managed='no'")]
    [InlineData("<interface type='ethernet'><mac address='52:54:00:aa:00:01'/><target managed='no'/></interface>", "target dev '' is empty")]
    [InlineData("<interface type='ethernet'><mac address='52:54:00:aa:00:01'/><target dev='a b' managed='no'/></interface>", "white space")]
    [InlineData("<interface type='ethernet'><mac address='52:54:00:aa:00:01'/><target dev='mvtap1234567890123' managed='no'/></interface>",
        "longer than 15 bytes")]
    public void RefusesNicsThatCannotBeHandedOver(string devices, string expected)
    {
        var e = Assert.Throws<ShimFailure>(() => Read(Domain(devices, Link("52:54:00:aa:00:01"))));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void RefusesTwoInterfacesWithOneMac()
    {
        string devices = Ethernet("52:54:00:aa:00:01", "mvtap1") + Ethernet("52:54:00:aa:00:01", "mvtap2");
        Assert.Contains("two <interface>", Assert.Throws<ShimFailure>(() => Read(Domain(devices, Link("52:54:00:aa:00:01")))).Message);
    }

    [Theory]
    [InlineData("<domain><uuid>0b6a3a4e-2f4f-4c43-9a3a-6f1d5d8e2a11</uuid></domain>", "no <name>")]
    [InlineData("<domain><name>x</name></domain>", "no <uuid>")]
    [InlineData("<domain><name>x</name><uuid>nope</uuid></domain>", "not a UUID")]
    [InlineData("<network><name>x</name></network>", "expected a <domain>")]
    public void RefusesDomainsWithoutIdentity(string xml, string expected) =>
        Assert.Contains(expected, Assert.Throws<ShimFailure>(() => Read(xml)).Message);

    [Fact]
    public void RefusesDtdsWithoutExpandingThem()
    {
        string bomb = "<?xml version='1.0'?><!DOCTYPE d [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]><domain>" +
            "<name>&b;</name></domain>";
        Assert.Contains("DTD", Assert.Throws<ShimFailure>(() => Read(bomb)).Message);
    }

    [Fact]
    public void RefusesInvalidUtf8AndEmptyInput()
    {
        byte[] bad = [.. "<domain><name>"u8, 0xff, 0xfe, .. "</name></domain>"u8];
        Assert.Contains("UTF-8", Assert.Throws<ShimFailure>(() => DomainXml.Parse(bad)).Message);
        Assert.Contains("empty", Assert.Throws<ShimFailure>(() => DomainXml.Parse([])).Message);
    }

    [Fact]
    public void RefusesInputLargerThanAnyDomainWithoutReadingItAll()
    {
        var endless = new EndlessStream();
        Assert.Contains("larger than", Assert.Throws<ShimFailure>(() => DomainXml.ReadBounded(endless)).Message);
        Assert.True(endless.Served <= DomainXml.MaxBytes + 128 * 1024);
    }

    private static MacAddress Mac(string text) => MacAddress.TryParse(text, out var mac) ? mac : throw new ArgumentException(text);

    private sealed class EndlessStream : Stream
    {
        public long Served { get; private set; }
        public override int Read(byte[] buffer, int offset, int count)
        {
            Array.Fill(buffer, (byte)' ', offset, count);
            Served += count;
            return count;
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Served; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
