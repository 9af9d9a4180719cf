using System.Xml.Linq;
using LibvirtShim.Net;

namespace LibvirtShim.Domain;

/// <summary>
/// The XML a hot-plug exchanges with libvirt: the owned NIC's device, and the hook's metadata element as
/// virDomainGetMetadata returns it and virDomainSetMetadata takes it (the whole element; libvirt adds the namespace).
/// </summary>
internal static class HotplugXml
{
    /// <summary>An owned NIC as the hook's NICs look: ethernet, the macvtap opened by libvirt (managed='no'), virtio.</summary>
    public static string Interface(MacAddress mac, string name) =>
        new XElement("interface", new XAttribute("type", "ethernet"),
            new XElement("mac", new XAttribute("address", mac.ToString())),
            new XElement("target", new XAttribute("dev", name), new XAttribute("managed", "no")),
            new XElement("model", new XAttribute("type", "virtio"))).ToString(SaveOptions.DisableFormatting);

    /// <summary>
    /// A running guest's NIC as libvirt lists it, for unplugging and plugging it in again as it was (model, driver and
    /// queues, MTU, PCI address, boot order...): its element without the &lt;alias&gt; libvirt named it by, which it gives again.
    /// </summary>
    public static string AsPlugged(XElement nic)
    {
        var copy = new XElement(nic);
        copy.Elements("alias").Remove();
        return copy.ToString(SaveOptions.DisableFormatting);
    }

    /// <summary>The &lt;interface&gt; of a domain with that MAC, or null.</summary>
    public static XElement? FindInterface(XElement domain, MacAddress mac) =>
        domain.Element("devices")?.Elements("interface")
            .FirstOrDefault(i => MacAddress.TryParse((string?)i.Element("mac")?.Attribute("address"), out MacAddress m) && m == mac);

    /// <summary>The element with a &lt;link&gt; added for <paramref name="nic"/> (a link of the same MAC replaced).</summary>
    public static string AddLink(string? element, OwnedNic nic, int? mtu)
    {
        XElement root = Parse(element);
        LinksOf(root, nic.Mac).Remove();
        var link = new XElement("link", new XAttribute("mac", nic.Mac.ToString()));
        link.Add(nic.Network is null ? new XAttribute("source", nic.Source!) : new XAttribute("network", nic.Network));
        link.Add(new XAttribute("mode", nic.Mode.Name()));
        if (mtu is { } m) link.Add(new XAttribute("mtu", m));
        if (nic.SourceMacs is { } sources) link.Add(new XAttribute("macaddrs", sources.ToString()));
        if (nic.Guard is { } guard) link.Add(new XAttribute("guard", guard.Name()));
        if (nic.Ips is { Count: > 0 } ips) link.Add(new XAttribute("ips", string.Join(' ', ips)));
        root.Add(link);
        return root.ToString(SaveOptions.DisableFormatting);
    }

    /// <summary>The element without the &lt;link&gt; of <paramref name="mac"/>; null when no link is left (the element goes).</summary>
    public static string? RemoveLink(string? element, MacAddress mac)
    {
        XElement root = Parse(element);
        LinksOf(root, mac).Remove();
        return root.Elements().Any() ? root.ToString(SaveOptions.DisableFormatting) : null;
    }

    public static bool HasLink(string? element, MacAddress mac) => element is not null && LinksOf(Parse(element), mac).Any();

    private static IEnumerable<XElement> LinksOf(XElement root, MacAddress mac) =>
        root.Elements().Where(e => e.Name.LocalName == "link"
            && MacAddress.TryParse((string?)e.Attribute("mac"), out MacAddress m) && m == mac).ToList();

    /// <summary>libvirt returns the element without its namespace; children are compared by local name.</summary>
    private static XElement Parse(string? element)
    {
        if (element is null) return new XElement("macvtap");
        XElement root = DomainXml.Parse(System.Text.Encoding.UTF8.GetBytes(element)).Root!;
        foreach (XElement e in root.DescendantsAndSelf()) e.Name = e.Name.LocalName;
        root.Attributes().Where(a => a.IsNamespaceDeclaration).Remove();
        return root;
    }
}
