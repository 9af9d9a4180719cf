using System.Xml.Linq;

namespace LibvirtShim.Domain;

/// <summary>A domain's &lt;name&gt; and &lt;uuid&gt;, both required.</summary>
internal static class Identity
{
    public static string Name(XElement domain)
    {
        string name = ((string?)domain.Element("name"))?.Trim() ?? "";
        if (name.Length == 0) throw DomainXml.Invalid("domain XML has no <name>");
        return name;
    }

    public static Guid Uuid(XElement domain)
    {
        string? text = ((string?)domain.Element("uuid"))?.Trim();
        if (string.IsNullOrEmpty(text)) throw DomainXml.Invalid("domain XML has no <uuid>");
        if (!Guid.TryParse(text, out Guid uuid) || uuid == Guid.Empty)
            throw DomainXml.Invalid($"domain <uuid> '{DomainReader.Shorten(text)}' is not a UUID");
        return uuid;
    }
}
