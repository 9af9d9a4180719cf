using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace LibvirtShim.Domain;

/// <summary>
/// Changes single attributes of a parsed domain XML in place and writes it back; everything else (elements,
/// attributes, namespaces, other tools' metadata, white space) stays as it came.
/// </summary>
internal sealed class DomainRewriter(XDocument document)
{
    public bool Changed { get; private set; }

    /// <summary>The target dev of an owned NIC (its &lt;interface&gt;, from <see cref="NicElements.Owned"/>).</summary>
    public void SetOwnedName(XElement nic, string name) => Set(nic.Element("target"), "dev", name);

    /// <summary>The lower device in an owned NIC's &lt;shim:link&gt; (from <see cref="NicElements.Owned"/>).</summary>
    public void SetOwnedSource(XElement link, string source) => Set(link, "source", source);

    /// <summary>The &lt;source dev&gt; of libvirt's own direct NIC (its &lt;interface&gt;, from <see cref="NicElements.Libvirt"/>).</summary>
    public void SetDirectSource(XElement nic, string device)
    {
        if ((string?)nic.Attribute("type") != "direct")
            throw new ArgumentException("only a direct NIC names its lower device in <source dev>", nameof(nic));
        Set(nic.Element("source"), "dev", device);
    }

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
}
