using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Libvirt;
using LibvirtShim.Messages;
using Xunit;

namespace LibvirtShim.Tests.Libvirt;

/// <summary>
/// The libvirt layer against libvirt's own in-process test driver (test:///default: a running, persistent domain
/// "test"; no daemon). Each test opens its own connection, and so its own copy of the driver's state.
/// </summary>
public class LibvirtInteropTests
{
    private const string TestUri = "test:///default";
    private const string TestUuid = "6695eb01-f6a4-8304-79aa-97f2502e193f";

    [Fact]
    public void TheTestDriversGuestReadsAsLibvirtKeepsIt()
    {
        using LibvirtGuest guest = LibvirtGuest.Open(TestUri, "test");
        Assert.True(guest.IsActive);
        Assert.True(guest.IsPersistent);
        DomainDescription live = DomainReader.Read(XDocument.Parse(guest.Xml(GuestScope.Live)));
        Assert.Equal(("test", Guid.Parse(TestUuid)), (live.Name, live.Uuid));
        Assert.Null(guest.Metadata(GuestScope.Live));
    }

    [Fact]
    public void MetadataIsReplacedWholeAndReadBackPerSideWithoutItsNamespace()
    {
        using LibvirtGuest guest = LibvirtGuest.Open(TestUri, "test");
        const string element = "<macvtap><link mac=\"52:54:00:aa:00:07\" source=\"uplink0\" mode=\"bridge\"/></macvtap>";

        guest.SetMetadata(element, GuestScope.Live);

        Assert.True(XNode.DeepEquals(XElement.Parse(element), XElement.Parse(guest.Metadata(GuestScope.Live)!)));
        Assert.Null(guest.Metadata(GuestScope.Config));
        DomainDescription live = DomainReader.ReadLenient(XDocument.Parse(guest.Xml(GuestScope.Live)));
        XElement metadata = XElement.Parse(guest.Xml(GuestScope.Live)).Element("metadata")!.Element(ShimMetadata.Root)!;
        Assert.Equal("uplink0", (string?)metadata.Element(ShimMetadata.Link)!.Attribute("source"));
        Assert.Empty(live.OwnedNics);   // the metadata names a MAC no NIC has: not an owned NIC

        guest.SetMetadata(HotplugXml.RemoveLink(guest.Metadata(GuestScope.Live), Mac07()), GuestScope.Live);
        Assert.Null(guest.Metadata(GuestScope.Live));
        Assert.Null(XElement.Parse(guest.Xml(GuestScope.Live)).Element("metadata")?.Element(ShimMetadata.Root));

        guest.SetMetadata(element, GuestScope.Config);
        Assert.NotNull(guest.Metadata(GuestScope.Config));
        Assert.Null(guest.Metadata(GuestScope.Live));
    }

    [Fact]
    public void AFailedCallIsTheProjectsFailureNamingTheCallWithLibvirtsMessage()
    {
        using LibvirtGuest guest = LibvirtGuest.Open(TestUri, "test");
        ShimFailure e = Assert.Throws<ShimFailure>(() => guest.Attach(HotplugXml.Interface(Mac07(), "mvtap7"), GuestScope.Live));
        Assert.Equal("virDomainAttachDeviceFlags: this function is not supported by the connection driver: virDomainAttachDeviceFlags", e.Message);
        Assert.False(e.NamesDomain);   // the hot-plug step that called it names the domain and the NIC
    }

    [Fact]
    public void AMissingDomainOrAnUnreachableUriIsOneLineNamingTheDomain()
    {
        ShimFailure missing = Assert.Throws<ShimFailure>(() => LibvirtGuest.Open(TestUri, "nosuch"));
        Assert.Equal("domain 'nosuch': virDomainLookupByName: Domain not found", missing.Message);
        ShimFailure uri = Assert.Throws<ShimFailure>(() => LibvirtGuest.Open("test:///nonexistent/file.xml", "web"));
        Assert.StartsWith("domain 'web': cannot connect to libvirt (test:///nonexistent/file.xml): virConnectOpen: ", uri.Message);
        Assert.DoesNotContain('\n', uri.Message);
    }

    private static Net.MacAddress Mac07() => Net.MacAddress.TryParse("52:54:00:aa:00:07", out Net.MacAddress mac) ? mac : default;
}
