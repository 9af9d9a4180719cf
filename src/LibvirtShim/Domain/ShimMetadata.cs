using System.Xml.Linq;

namespace LibvirtShim.Domain;

/// <summary>The hook's element in a domain's &lt;metadata&gt;: &lt;shim:macvtap&gt; holding one &lt;shim:link&gt; per owned NIC.</summary>
internal static class ShimMetadata
{
    public const string NamespaceUri = "urn:libvirt-shim:macvtap:1";
    public static readonly XNamespace Namespace = NamespaceUri;
    public static ReadOnlySpan<byte> NamespaceUtf8 => "urn:libvirt-shim:macvtap:1"u8;
    public static readonly XName Root = Namespace + "macvtap";
    public static readonly XName Link = Namespace + "link";
    public const string Prefix = "shim";

    public static IEnumerable<XElement> Links(XElement domain) =>
        domain.Element("metadata")?.Elements(Root).Elements(Link) ?? [];
}
