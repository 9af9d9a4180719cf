using System.Security.Cryptography;
using System.Xml.Linq;
using LibvirtShim.Net;

namespace LibvirtShim.Domain;

/// <summary>A libvirt <c>direct</c> NIC that can be handed to the hook; <see cref="Mtu"/> is its &lt;mtu size&gt;, as written.</summary>
internal sealed record DirectNic(XElement Interface, MacAddress? Mac, string? SourceDevice, string Mode, string? Mtu);

/// <summary>
/// Rewrites <c>&lt;interface type='direct'&gt;</c> NICs into NICs the hook owns: <c>type='ethernet'</c>,
/// <c>&lt;target dev managed='no'/&gt;</c> and a <c>&lt;shim:link&gt;</c> in the metadata. Every other child of the NIC
/// (model, address, boot order, ...) and everything else in the domain stays.
/// </summary>
internal static class DirectNicConversion
{
    /// <summary>libvirt's default mode for a direct NIC without one.</summary>
    private const string LibvirtDefaultMode = "vepa";

    public static List<DirectNic> Find(XElement domain)
    {
        var nics = new List<DirectNic>();
        foreach (XElement nic in domain.Element("devices")?.Elements("interface") ?? [])
        {
            if ((string?)nic.Attribute("type") != "direct") continue;
            XElement? source = nic.Element("source");
            MacAddress? mac = MacAddress.TryParse((string?)nic.Element("mac")?.Attribute("address"), out MacAddress m) ? m : null;
            nics.Add(new DirectNic(nic, mac, (string?)source?.Attribute("dev"), (string?)source?.Attribute("mode") ?? LibvirtDefaultMode,
                (string?)nic.Element("mtu")?.Attribute("size")));
        }
        return nics;
    }

    /// <summary>Why this NIC cannot be handed over as it is, or null.</summary>
    public static string? Problem(DirectNic nic)
    {
        if (nic.Interface.Element("virtualport") is not null) return "has a <virtualport> (802.1Qbg/Qbh), which only libvirt can set up";
        if (nic.SourceDevice is null) return "has no <source dev='...'>";
        if (!MacvtapModes.TryParse(nic.Mode, out _)) return $"has an unknown mode '{nic.Mode}'";
        if (nic.Mtu is { } mtu && !ShimMetadata.TryParseMtu(mtu, out _))
            return $"has <mtu size='{DomainReader.Shorten(mtu)}'>, not an MTU ({ShimMetadata.MtuRange})";
        return null;
    }

    public static void Convert(XElement domain, DirectNic nic, string name, string? source, string? network)
    {
        MacvtapModes.TryParse(nic.Mode, out MacvtapMode mode);
        XElement element = nic.Interface;
        element.SetAttributeValue("type", "ethernet");
        element.Element("source")?.Remove();
        element.Element("target")?.Remove();
        var target = new XElement("target", new XAttribute("dev", name), new XAttribute("managed", "no"));
        (element.Element("mac") ?? element.Elements().FirstOrDefault())?.AddAfterSelf(target);
        if (target.Parent is null) element.Add(target);

        var link = new XElement(ShimMetadata.Link, new XAttribute("mac", nic.Mac!.Value.ToString()));
        link.Add(network is null ? new XAttribute("source", source!) : new XAttribute("network", network));
        link.Add(new XAttribute("mode", mode.Name()));
        // The <mtu> element stays too: libvirt tells a virtio guest the MTU through it (host_mtu).
        if (nic.Mtu is { } mtu) link.Add(new XAttribute("mtu", mtu));
        MetadataRoot(domain).Add(link);
    }

    /// <summary>The domain's UUID, adding a &lt;uuid&gt; after &lt;name&gt; when it has none.</summary>
    public static Guid EnsureUuid(XElement domain)
    {
        if (domain.Element("uuid") is not null) return Identity.Uuid(domain);
        Guid uuid = Guid.NewGuid();
        var element = new XElement("uuid", uuid.ToString("D"));
        if (domain.Element("name") is { } name) name.AddAfterSelf(element);
        else domain.AddFirst(element);
        return uuid;
    }

    /// <summary>A NIC without a MAC gets one in libvirt's 52:54:00 range, as libvirt would at define: the metadata needs it.</summary>
    public static DirectNic EnsureMac(DirectNic nic)
    {
        if (nic.Mac is not null) return nic;
        MacAddress mac = RandomMac();
        nic.Interface.Element("mac")?.Remove();
        nic.Interface.AddFirst(new XElement("mac", new XAttribute("address", mac.ToString())));
        return nic with { Mac = mac };
    }

    /// <summary>A random MAC in libvirt's 52:54:00 range.</summary>
    public static MacAddress RandomMac()
    {
        Span<byte> random = stackalloc byte[3];
        RandomNumberGenerator.Fill(random);
        return new MacAddress(0x525400000000UL | ((ulong)random[0] << 16) | ((ulong)random[1] << 8) | random[2]);
    }

    private static XElement MetadataRoot(XElement domain)
    {
        XElement? metadata = domain.Element("metadata");
        if (metadata is null)
        {
            metadata = new XElement("metadata");
            (domain.Element("description") ?? domain.Element("title") ?? domain.Element("uuid") ?? domain.Element("name"))?.AddAfterSelf(metadata);
            if (metadata.Parent is null) domain.AddFirst(metadata);
        }
        XElement? root = metadata.Element(ShimMetadata.Root);
        if (root is null)
        {
            root = new XElement(ShimMetadata.Root, new XAttribute(XNamespace.Xmlns + ShimMetadata.Prefix, ShimMetadata.Namespace.NamespaceName));
            metadata.Add(root);
        }
        return root;
    }
}
