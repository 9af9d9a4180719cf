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

    /// <summary>68 is the least an Ethernet link carries (ETH_MIN_MTU); 65535 the most a macvtap takes.</summary>
    public const uint MinimumMtu = 68;
    public const uint MaximumMtu = 65535;

    public static string MtuRange => $"a whole number from {MinimumMtu} to {MaximumMtu}";

    /// <summary>At most this many macaddrs on one source-mode link: they travel in the link's one creating request.</summary>
    public const int MaxSourceMacs = 1024;

    /// <summary>An mtu= value (or a libvirt &lt;mtu size&gt;): digits only, within the range.</summary>
    public static bool TryParseMtu(string text, out uint mtu) =>
        uint.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out mtu)
        && mtu is >= MinimumMtu and <= MaximumMtu;

    public static IEnumerable<XElement> Links(XElement domain) =>
        domain.Element("metadata")?.Elements(Root).Elements(Link) ?? [];
}
