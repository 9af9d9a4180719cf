using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>The installed admin tool (attach-interface, detach-interface, adopt) and what it leaves in a domain's XML.</summary>
public static partial class ShimAdmin
{
    public static readonly XNamespace MetadataNamespace = "urn:libvirt-shim:macvtap:1";

    /// <summary>libvirt-shim ARGS where the hook of <paramref name="fixture"/>'s daemon runs (chrooted in its tree for libvirt-next).</summary>
    public static CmdResult Run(LibvirtFixture fixture, string[] args, string? stdin = null) => fixture.Shim(args, stdin);

    /// <summary>The name attach-interface took, from its line "attached NIC MAC (NAME) to domain 'D' (...)".</summary>
    public static string AttachedName(CmdResult attach) =>
        AttachedLine().Match(attach.Stdout) is { Success: true } m ? m.Groups["name"].Value
        : throw new CommandFailedException($"attach-interface printed no \"attached NIC MAC (NAME)\" line: {attach.Describe()}");

    /// <summary>The domain's &lt;shim:link&gt; for <paramref name="mac"/>, or null.</summary>
    public static XElement? ShimLink(XDocument domain, string mac) =>
        domain.Root?.Element("metadata")?.Element(MetadataNamespace + "macvtap")?.Elements(MetadataNamespace + "link")
            .FirstOrDefault(l => string.Equals((string?)l.Attribute("mac"), mac, StringComparison.OrdinalIgnoreCase));

    /// <summary>The domain's &lt;interface&gt; with <paramref name="mac"/>, or null.</summary>
    public static XElement? Interface(XDocument domain, string mac) =>
        domain.Root?.Element("devices")?.Elements("interface")
            .FirstOrDefault(i => string.Equals((string?)i.Element("mac")?.Attribute("address"), mac, StringComparison.OrdinalIgnoreCase));

    [GeneratedRegex(@"^attached NIC \S+ \((?<name>[^)]+)\) to domain", RegexOptions.Multiline)]
    private static partial Regex AttachedLine();
}
