using System.Text.Json;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>One link as <c>ip -j -d link show</c> reports it.</summary>
public sealed record KernelLink(
    string Name, int Index, string Mac, string? Lower, string? Kind, string? MacvtapMode, bool AdminUp, string OperState,
    string? Alias, string Group, int Mtu = 0)
{
    public bool IsMacvtap => Kind == "macvtap";

    public override string ToString() =>
        $"{Name}#{Index} {Kind} {Mac} on {Lower ?? "-"} mode {MacvtapMode ?? "-"} {(AdminUp ? "UP" : "down")}/{OperState} alias {Alias ?? "-"}";
}

/// <summary>The kernel's links, read with iproute2 (the product's netlink code is what is under test).</summary>
public static class IpLinks
{
    public static IReadOnlyList<KernelLink> All()
    {
        CmdResult result = Cmd.Run("ip", ["-j", "-d", "link", "show"]).MustSucceed("listing links");
        return Parse(result.Stdout);
    }

    public static KernelLink? Find(string name) => All().FirstOrDefault(l => l.Name == name);

    public static Dictionary<string, KernelLink> ByName() => All().ToDictionary(l => l.Name, StringComparer.Ordinal);

    /// <summary>Links with any of these MACs (case-insensitive).</summary>
    public static List<KernelLink> WithMacs(IEnumerable<string> macs)
    {
        var wanted = macs.Select(m => m.ToLowerInvariant()).ToHashSet();
        return All().Where(l => wanted.Contains(l.Mac)).ToList();
    }

    public static bool Exists(string name) => Cmd.Run("ip", ["link", "show", "dev", name]).Ok;

    internal static List<KernelLink> Parse(string json)
    {
        var links = new List<KernelLink>();
        using JsonDocument doc = JsonDocument.Parse(json);
        foreach (JsonElement e in doc.RootElement.EnumerateArray())
        {
            string name = e.GetProperty("ifname").GetString()!;
            int index = e.GetProperty("ifindex").GetInt32();
            string mac = (Str(e, "address") ?? "").ToLowerInvariant();
            string? lower = Str(e, "link");
            string? kind = null, mode = null;
            if (e.TryGetProperty("linkinfo", out JsonElement info))
            {
                kind = Str(info, "info_kind");
                if (info.TryGetProperty("info_data", out JsonElement data)) mode = Str(data, "mode");
            }
            bool up = e.TryGetProperty("flags", out JsonElement flags) && flags.EnumerateArray().Any(f => f.GetString() == "UP");
            string oper = Str(e, "operstate") ?? "";
            string group = e.TryGetProperty("group", out JsonElement g) ? g.ToString() : "";
            int mtu = e.TryGetProperty("mtu", out JsonElement m) && m.ValueKind == JsonValueKind.Number ? m.GetInt32() : 0;
            links.Add(new KernelLink(name, index, mac, lower, kind, mode, up, oper, Str(e, "ifalias"), group, mtu));
        }
        return links;
    }

    private static string? Str(JsonElement e, string property) =>
        e.TryGetProperty(property, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
