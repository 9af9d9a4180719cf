using System.Text.Json;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>One link as `ip -d -j link show` reports it: the independent view the tests compare against.</summary>
internal sealed record IpLink(
    int Index,
    string Name,
    string? Lower,
    string Address,
    string Group,
    string? Alias,
    bool IsUp,
    string? Kind,
    string? Mode,
    int Mtu,
    bool AllMulticast,
    string? AddressGenerationMode)
{
    public static IpLink From(JsonElement link)
    {
        JsonElement? info = Optional(link, "linkinfo");
        JsonElement? data = info is { } i ? Optional(i, "info_data") : null;
        return new IpLink(
            Index: link.GetProperty("ifindex").GetInt32(),
            Name: link.GetProperty("ifname").GetString()!,
            Lower: Optional(link, "link")?.GetString(),
            Address: Optional(link, "address")?.GetString() ?? "",
            Group: link.GetProperty("group").GetString()!,
            Alias: Optional(link, "ifalias")?.GetString(),
            IsUp: link.GetProperty("flags").EnumerateArray().Any(flag => flag.GetString() == "UP"),
            Kind: info is { } k ? Optional(k, "info_kind")?.GetString() : null,
            Mode: data is { } d ? Optional(d, "mode")?.GetString() : null,
            Mtu: link.GetProperty("mtu").GetInt32(),
            AllMulticast: link.GetProperty("flags").EnumerateArray().Any(flag => flag.GetString() == "ALLMULTI"),
            AddressGenerationMode: Optional(link, "inet6_addr_gen_mode")?.GetString());
    }

    /// <summary>The group as a number ("default" is group 0).</summary>
    public uint GroupNumber => Group == "default" ? 0 : unchecked((uint)long.Parse(Group, System.Globalization.CultureInfo.InvariantCulture));

    private static JsonElement? Optional(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null ? value : null;
}
