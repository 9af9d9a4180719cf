using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Libvirt;
using LibvirtShim.Lifecycle;
using LibvirtShim.Messages;
using LibvirtShim.Net;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>
/// A guest as libvirt keeps it, in memory, for the logic of hot-plug (libvirt's test driver implements neither attach
/// nor detach): device XML added and removed by MAC, the hook's metadata element kept per side and returned without
/// its namespace as virDomainGetMetadata does, a live detach that completes only after some reads of the live XML (the
/// guest acknowledging), and calls made to fail as the libvirt binding reports libvirt's failures.
/// </summary>
internal sealed class FakeGuest : IGuestDevices
{
    private readonly Dictionary<GuestScope, XElement> _domains = [];
    private readonly Dictionary<GuestScope, string?> _metadata = [];
    private int _liveReadsUntilGone = -1;
    private MacAddress _leaving;

    public FakeGuest(string name, string? liveXml, string? configXml)
    {
        Name = name;
        if (liveXml is not null) Load(GuestScope.Live, liveXml);
        if (configXml is not null) Load(GuestScope.Config, configXml);
    }

    public string Name { get; }
    public bool IsActive => _domains.ContainsKey(GuestScope.Live);
    public bool IsPersistent => _domains.ContainsKey(GuestScope.Config);

    /// <summary>The running guest's vCPUs run (libvirt's state running); false: paused.</summary>
    public bool VcpusRun { get; set; } = true;

    /// <summary>Calls ("attach", "detach", "get-metadata", "set-metadata") and the side on which they fail.</summary>
    public Dictionary<string, GuestScope> Failing { get; } = [];

    /// <summary>How many reads of the live XML a live detach takes to complete; negative: never.</summary>
    public int LiveReadsToDetach { get; set; }

    public List<string> Calls { get; } = [];

    public string Xml(GuestScope side)
    {
        if (side == GuestScope.Live && _liveReadsUntilGone >= 0 && _liveReadsUntilGone-- == 0) Remove(_domains[side], _leaving);
        XElement domain = new(_domains[side]);
        if (_metadata[side] is { } element)
        {
            XElement root = XElement.Parse(element);
            foreach (XElement e in root.DescendantsAndSelf()) e.Name = ShimMetadata.Namespace + e.Name.LocalName;
            root.Add(new XAttribute(XNamespace.Xmlns + ShimMetadata.Prefix, ShimMetadata.NamespaceUri));
            domain.AddFirst(new XElement("metadata", root));
        }
        return domain.ToString();
    }

    public void Attach(string deviceXml, GuestScope scope)
    {
        Call("attach", "virDomainAttachDeviceFlags", scope);
        foreach (GuestScope side in GuestScopes.Sides(scope))
        {
            XElement device = XElement.Parse(deviceXml);
            if (side == GuestScope.Live) device.Add(new XElement("alias",
                new XAttribute("name", "net" + _domains[side].Descendants("interface").Count())));
            _domains[side].Element("devices")!.Add(device);
        }
    }

    public void Detach(string deviceXml, GuestScope scope)
    {
        Call("detach", "virDomainDetachDeviceFlags", scope);
        MacAddress.TryParse((string?)XElement.Parse(deviceXml).Element("mac")?.Attribute("address"), out MacAddress mac);
        foreach (GuestScope side in GuestScopes.Sides(scope))
        {
            if (HotplugXml.FindInterface(_domains[side], mac) is null)
                throw ShimFailure.WithoutDomain($"virDomainDetachDeviceFlags: operation failed: no device matching MAC address {mac} found");
            if (side == GuestScope.Config || LiveReadsToDetach == 0) Remove(_domains[side], mac);
            else (_leaving, _liveReadsUntilGone) = (mac, LiveReadsToDetach);
        }
    }

    public string? Metadata(GuestScope side)
    {
        Call("get-metadata", "virDomainGetMetadata", side);
        return _metadata[side];
    }

    public void SetMetadata(string? element, GuestScope side)
    {
        Call("set-metadata", "virDomainSetMetadata", side);
        _metadata[side] = element;
    }

    private void Call(string name, string function, GuestScope scope)
    {
        Calls.Add($"{name} {scope}");
        if (Failing.TryGetValue(name, out GuestScope failing) && (failing & scope) != 0)
            throw ShimFailure.WithoutDomain($"{function}: internal error: injected failure");
    }

    private static void Remove(XElement domain, MacAddress mac) => HotplugXml.FindInterface(domain, mac)?.Remove();

    private void Load(GuestScope side, string xml)
    {
        XElement domain = XElement.Parse(xml);
        XElement? element = domain.Element("metadata")?.Element(ShimMetadata.Root);
        element?.Remove();
        if (element is not null)
        {
            foreach (XElement e in element.DescendantsAndSelf()) e.Name = e.Name.LocalName;
            element.Attributes().Where(a => a.IsNamespaceDeclaration).Remove();
        }
        _metadata[side] = element?.ToString(SaveOptions.DisableFormatting);
        _domains[side] = domain;
    }
}
