using System.Xml.Linq;
using LibvirtShim.Messages;
using LibvirtShim.Net;

namespace LibvirtShim.Domain;

/// <summary>
/// Turns a libvirt domain XML (the hook's stdin, a definition, or a <c>&lt;domstatus&gt;</c> status file)
/// into a <see cref="DomainDescription"/>. Problems with the NICs handed to the hook are errors;
/// libvirt's own NICs are read leniently, since libvirt already accepted them.
/// </summary>
internal static class DomainReader
{
    public static DomainDescription Read(XDocument document) => Read(document, skipBrokenNics: false, out _);

    /// <summary>The domain, and the elements each of its NICs was read from, for rewriting each NIC as itself.</summary>
    public static DomainDescription Read(XDocument document, out NicElements elements) => Read(document, skipBrokenNics: false, out elements);

    /// <summary>For inventories (status files, definitions): owned NICs that do not check out are left out, not fatal.</summary>
    public static DomainDescription ReadLenient(XDocument document) => Read(document, skipBrokenNics: true, out _);

    private static DomainDescription Read(XDocument document, bool skipBrokenNics, out NicElements elements)
    {
        XElement domain = DomainElement(document);
        string name = Identity.Name(domain);
        Guid uuid = Identity.Uuid(domain);
        var interfaces = domain.Element("devices")?.Elements("interface").ToList() ?? [];
        var owned = ReadOwnedNics(domain, interfaces, skipBrokenNics);
        var macvtaps = ReadLibvirtMacvtaps(interfaces);
        elements = new NicElements(owned.ConvertAll(o => (o.Interface, o.Link)), macvtaps.ConvertAll(m => m.Interface));
        return new DomainDescription(name, uuid, owned.ConvertAll(o => o.Nic), macvtaps.ConvertAll(m => m.Nic))
        {
            StatusState = document.Root?.Name == "domstatus" ? GuestStates.Parse((string?)document.Root.Attribute("state")) : null,
        };
    }

    public static XElement DomainElement(XDocument document)
    {
        XElement? root = document.Root;
        if (root?.Name == "domstatus") root = root.Element("domain");
        if (root is null || root.Name != "domain")
            throw DomainXml.Invalid($"expected a <domain> document, found <{document.Root?.Name.LocalName}>");
        return root;
    }

    /// <summary>
    /// The NICs the metadata hands to the hook, in its order. A NIC that does not check out, or that repeats an earlier
    /// one's MAC or target dev, fails the read, or with <paramref name="skipBroken"/> is left out.
    /// </summary>
    private static List<(OwnedNic Nic, XElement Interface, XElement Link)> ReadOwnedNics(XElement domain, List<XElement> interfaces, bool skipBroken)
    {
        var nics = new List<(OwnedNic, XElement, XElement)>();
        var byMac = InterfacesByMac(interfaces);
        var macs = new HashSet<MacAddress>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (XElement link in ShimMetadata.Links(domain))
        {
            try
            {
                (OwnedNic nic, XElement element) = ReadOwnedNic(link, byMac);
                if (macs.Contains(nic.Mac))
                    throw DomainXml.Invalid($"NIC {nic.Mac}: the metadata hands this MAC to libvirt-shim twice");
                if (names.Contains(nic.Name))
                    throw DomainXml.Invalid($"NIC {nic.Mac} ({nic.Name}): another NIC of this domain has the same target dev");
                nics.Add((nic, element, link));
                macs.Add(nic.Mac);
                names.Add(nic.Name);
            }
            catch (ShimFailure) when (skipBroken)
            {
            }
        }
        return nics;
    }

    private static (OwnedNic Nic, XElement Interface) ReadOwnedNic(XElement link, Dictionary<MacAddress, (XElement First, bool Twice)> interfaces)
    {
        string macText = (string?)link.Attribute("mac") ?? "";
        if (!MacAddress.TryParse(macText, out MacAddress mac))
            throw DomainXml.Invalid($"<shim:link mac='{Shorten(macText)}'>: not a MAC address");
        string? source = (string?)link.Attribute("source");
        string? network = (string?)link.Attribute("network");
        string? modeText = (string?)link.Attribute("mode");
        if (!MacvtapModes.TryParse(modeText, out MacvtapMode mode))
            throw DomainXml.Invalid($"NIC {mac}: unknown macvtap mode '{Shorten(modeText)}' (bridge, vepa, private, passthru or source)");
        if ((source is null) == (network is null))
            throw DomainXml.Invalid($"NIC {mac}: <shim:link> needs exactly one of source='LOWER-DEVICE' or network='NAME'");
        if (source is not null && InterfaceName.Problem(source) is { } sourceProblem)
            throw DomainXml.Invalid($"NIC {mac}: lower device name '{Shorten(source)}' {sourceProblem}");
        if (network is not null && network.Length == 0)
            throw DomainXml.Invalid($"NIC {mac}: network name is empty");

        XElement nic = SingleInterfaceWithMac(interfaces, mac);
        XElement? target = nic.Element("target");
        string? type = (string?)nic.Attribute("type");
        if (type != "ethernet" || (string?)target?.Attribute("managed") != "no")
            throw DomainXml.Invalid(
                $"NIC {mac} is handed to libvirt-shim but is not <interface type='ethernet'> with <target dev='NAME' managed='no'/> " +
                    type switch
                    {
                        "direct" => "(libvirt-shim adopt converts a direct NIC)",
                        "ethernet" => "(give it <target dev='NAME' managed='no'/>)",
                        _ => "(only such a NIC can be: remove its <shim:link>)",
                    });
        string name = (string?)target.Attribute("dev") ?? "";
        if (InterfaceName.Problem(name) is { } nameProblem)
            throw DomainXml.Invalid($"NIC {mac}: target dev '{Shorten(name)}' {nameProblem}");
        string subject = $"NIC {mac} ({name})";
        return (new OwnedNic(mac, name, source, network, mode, ReadMtu(link, subject), ReadAllMulticast(link, subject),
            ReadGuard(link, subject), ReadIps(link, subject), ReadSourceMacs(link, mode, subject)), nic);
    }

    /// <summary>guard='mac|ip|off'; null when absent (the Guard setting decides).</summary>
    private static GuardMode? ReadGuard(XElement link, string nic) =>
        link.Attribute("guard") is { } attribute ? ParseGuard(attribute.Value, nic) : null;

    /// <summary>A guard= value; a failure naming <paramref name="nic"/> when it is not one.</summary>
    public static GuardMode ParseGuard(string text, string nic) =>
        GuardModes.TryParse(text, out GuardMode mode) ? mode : throw DomainXml.Invalid($"{nic}: guard='{Shorten(text)}' is not {GuardModes.Choices}");

    /// <summary>ips='A B/N ...': addresses and prefixes, separated by commas or white space; null when absent.</summary>
    private static List<IpPrefix>? ReadIps(XElement link, string nic) =>
        link.Attribute("ips") is { } attribute ? ParseIps(attribute.Value, nic) : null;

    /// <summary>An ips= value, without repeats; a failure naming <paramref name="nic"/> and the entry when it is not one.</summary>
    public static List<IpPrefix> ParseIps(string text, string nic)
    {
        string[] entries = text.Split([',', ' ', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries);
        if (entries.Length > IpPrefix.MaxPerNic)
            throw DomainXml.Invalid($"{nic}: ips= has {entries.Length} addresses, at most {IpPrefix.MaxPerNic}");
        var ips = new List<IpPrefix>(entries.Length);
        foreach (string entry in entries)
        {
            if (IpPrefix.Problem(entry, out IpPrefix prefix) is { } problem)
                throw DomainXml.Invalid($"{nic}: ips= entry '{Shorten(entry)}' {problem}");
            if (!ips.Contains(prefix)) ips.Add(prefix);
        }
        return ips;
    }

    /// <summary>mtu='N': the link's MTU (0 when absent: the lower device's).</summary>
    private static uint ReadMtu(XElement link, string nic)
    {
        if (link.Attribute("mtu") is not { } attribute) return 0;
        if (ShimMetadata.TryParseMtu(attribute.Value, out uint mtu)) return mtu;
        throw DomainXml.Invalid($"{nic}: mtu='{Shorten(attribute.Value)}' is not an MTU ({ShimMetadata.MtuRange})");
    }

    /// <summary>
    /// macaddrs='MAC,...': the source MACs a source-mode link passes to the guest, required in that mode (without any the
    /// guest receives nothing) and refused in the others; null outside source mode.
    /// </summary>
    private static MacAddressSet? ReadSourceMacs(XElement link, MacvtapMode mode, string nic)
    {
        string? text = (string?)link.Attribute("macaddrs");
        if (mode != MacvtapMode.Source)
            return text is null ? null : throw DomainXml.Invalid($"{nic}: macaddrs='{Shorten(text)}' is only for mode='source'");
        if (string.IsNullOrWhiteSpace(text))
            throw DomainXml.Invalid($"{nic}: mode='source' needs macaddrs='MAC,...', the source MACs whose frames the link passes to the guest");
        if (!MacAddressSet.TryParse(text, out MacAddressSet macs))
            throw DomainXml.Invalid($"{nic}: macaddrs='{Shorten(text)}' is not a list of MAC addresses (52:54:00:aa:00:01,52:54:00:aa:00:02)");
        if (macs.Addresses.Where(m => m.IsMulticast || m.Value == 0).Cast<MacAddress?>().FirstOrDefault() is { } bad)
            throw DomainXml.Invalid($"{nic}: macaddrs='{Shorten(text)}' holds {bad}, which is not a unicast MAC address");
        if (macs.Count > ShimMetadata.MaxSourceMacs)
            throw DomainXml.Invalid($"{nic}: macaddrs lists {macs.Count} MACs, more than {ShimMetadata.MaxSourceMacs}");
        return macs;
    }

    /// <summary>allmulticast: on unless 'off' (or 'no', libvirt's other spelling of a boolean).</summary>
    private static bool ReadAllMulticast(XElement link, string nic) => (string?)link.Attribute("allmulticast") switch
    {
        null or "on" or "yes" => true,
        "off" or "no" => false,
        string other => throw DomainXml.Invalid($"{nic}: allmulticast='{Shorten(other)}' is neither on nor off (nor yes, no)"),
    };

    private static XElement SingleInterfaceWithMac(Dictionary<MacAddress, (XElement First, bool Twice)> interfaces, MacAddress mac)
    {
        if (!interfaces.TryGetValue(mac, out var found))
            throw DomainXml.Invalid($"NIC {mac}: the metadata names this MAC but no <interface> has it");
        if (found.Twice)
            throw DomainXml.Invalid($"NIC {mac}: two <interface> elements have this MAC");
        return found.First;
    }

    /// <summary>The interfaces by MAC, built once: a domain with thousands of NICs must not cost thousands of scans.</summary>
    private static Dictionary<MacAddress, (XElement First, bool Twice)> InterfacesByMac(List<XElement> interfaces)
    {
        var byMac = new Dictionary<MacAddress, (XElement First, bool Twice)>();
        foreach (XElement nic in interfaces)
        {
            if (!MacAddress.TryParse((string?)nic.Element("mac")?.Attribute("address"), out MacAddress mac)) continue;
            byMac[mac] = byMac.TryGetValue(mac, out var first) ? (first.First, true) : (nic, false);
        }
        return byMac;
    }

    private static List<(LibvirtMacvtap Nic, XElement Interface)> ReadLibvirtMacvtaps(List<XElement> interfaces)
    {
        var macvtaps = new List<(LibvirtMacvtap, XElement)>();
        foreach (XElement nic in interfaces)
        {
            XElement? direct = (string?)nic.Attribute("type") switch
            {
                "direct" => nic,
                "network" => nic.Elements("actual").FirstOrDefault(a => (string?)a.Attribute("type") == "direct"),
                _ => null,
            };
            if (direct is null) continue;
            MacAddress.TryParse((string?)nic.Element("mac")?.Attribute("address"), out MacAddress mac);
            XElement? source = direct.Element("source");
            MacvtapModes.TryParse((string?)source?.Attribute("mode"), out MacvtapMode mode);
            string? name = (string?)nic.Element("target")?.Attribute("dev");
            macvtaps.Add((new LibvirtMacvtap(mac, string.IsNullOrEmpty(name) ? null : name, (string?)source?.Attribute("dev"), mode,
                ThroughNetwork: direct != nic), nic));
        }
        return macvtaps;
    }

    /// <summary>A value from the XML as a message quotes it: at most 40 characters (escaped where the message is shown).</summary>
    internal static string Shorten(string? text)
    {
        if (text is null) return "";
        return text.Length <= 40 ? text : text[..40] + "...";
    }
}
