using System.Text;
using System.Xml;
using System.Xml.Linq;
using LibvirtShim.Net;

namespace LibvirtShim.Domain;

/// <summary>
/// Changes single attributes of a parsed domain XML in place and writes it back; everything else (elements,
/// attributes, namespaces, other tools' metadata, white space) stays as it came.
/// </summary>
internal sealed class DomainRewriter(XDocument document)
{
    private readonly XElement _domain = DomainReader.DomainElement(document);
    private Dictionary<MacAddress, XElement>? _interfacesByMac;
    private Dictionary<MacAddress, XElement>? _linksByMac;

    public bool Changed { get; private set; }

    /// <summary>The target dev of the owned NIC with this MAC.</summary>
    public void SetOwnedName(MacAddress mac, string name) =>
        Set(InterfaceWithMac(mac)?.Element("target"), "dev", name);

    /// <summary>The lower device in the &lt;shim:link&gt; of this MAC.</summary>
    public void SetOwnedSource(MacAddress mac, string source) =>
        Set((_linksByMac ??= FirstByMac(ShimMetadata.Links(_domain), l => (string?)l.Attribute("mac"))).GetValueOrDefault(mac), "source", source);

    /// <summary>The &lt;source dev&gt; of libvirt's own direct NIC with this MAC.</summary>
    public void SetDirectSource(MacAddress mac, string device) =>
        Set(InterfaceWithMac(mac)?.Element("source"), "dev", device);

    /// <summary>
    /// Every value as it was read: a reader normalises a literal tab, CR or LF in an attribute to a space and a CR in text
    /// to LF, so those that came as character references (&amp;#10; &amp;#9; &amp;#13;) go out as references again (Entitize).
    /// </summary>
    public string Write()
    {
        var settings = new XmlWriterSettings
        {
            OmitXmlDeclaration = true,
            Encoding = new UTF8Encoding(false),
            NewLineHandling = NewLineHandling.Entitize,
            Indent = false,
        };
        var text = new StringBuilder();
        using (var writer = XmlWriter.Create(text, settings))
            document.Save(writer);
        return text.Append('\n').ToString();
    }

    private void Set(XElement? element, string attribute, string value)
    {
        if (element is null || (string?)element.Attribute(attribute) == value) return;
        element.SetAttributeValue(attribute, value);
        Changed = true;
    }

    private XElement? InterfaceWithMac(MacAddress mac) =>
        (_interfacesByMac ??= FirstByMac(_domain.Element("devices")?.Elements("interface") ?? [], i =>
            (string?)i.Element("mac")?.Attribute("address"))).GetValueOrDefault(mac);

    /// <summary>The first element of each MAC, found in one pass (a domain with thousands of NICs is rewritten in linear time).</summary>
    private static Dictionary<MacAddress, XElement> FirstByMac(IEnumerable<XElement> elements, Func<XElement, string?> macOf)
    {
        var byMac = new Dictionary<MacAddress, XElement>();
        foreach (XElement element in elements)
        {
            if (MacAddress.TryParse(macOf(element), out MacAddress mac)) byMac.TryAdd(mac, element);
        }
        return byMac;
    }
}
