using System.Text.Json;

namespace LibvirtShim.Tests.TestSupport;

internal sealed record NftTable(string Family, string Name, string? Comment);

internal sealed record NftChain(string Family, string Table, string Name, string? Hook, string? Device, string? Policy, string? Comment);

/// <summary>
/// The ruleset of a test namespace as the nftables program reads it (`nft -j list ruleset` inside it): an independent
/// reading of what the hook installed through netlink. nft 1.0.6 leaves comments and a chain's device out of its JSON, so
/// those come from its text listing.
/// </summary>
internal sealed record NftView(IReadOnlyList<NftTable> Tables, IReadOnlyList<NftChain> Chains, int Rules, IReadOnlyDictionary<string, long> Drops)
{
    public static NftView Of(NetNamespace ns)
    {
        if (!File.Exists("/usr/sbin/nft") && !File.Exists("/sbin/nft"))
            Requires.Missing("needs nft to read back the guards: apt-get install nftables (scripts/libvirt-up.sh and .ci/run install it)");
        using JsonDocument json = ns.NftRuleset();
        (Dictionary<string, string> comments, Dictionary<string, string> devices) = FromText(ns);
        var tables = new List<NftTable>();
        var chains = new List<NftChain>();
        int rules = 0;
        var drops = new Dictionary<string, long>();
        foreach (JsonElement item in json.RootElement.GetProperty("nftables").EnumerateArray())
        {
            if (item.TryGetProperty("table", out JsonElement t))
            {
                string name = t.GetProperty("name").GetString()!;
                tables.Add(new NftTable(t.GetProperty("family").GetString()!, name, Text(t, "comment") ?? comments.GetValueOrDefault(name)));
            }
            else if (item.TryGetProperty("chain", out JsonElement c))
            {
                string key = $"{c.GetProperty("table").GetString()}/{c.GetProperty("name").GetString()}";
                chains.Add(new NftChain(c.GetProperty("family").GetString()!, c.GetProperty("table").GetString()!, c.GetProperty("name").GetString()!,
                    Text(c, "hook"), Text(c, "dev") ?? devices.GetValueOrDefault(key), Text(c, "policy"),
                    Text(c, "comment") ?? comments.GetValueOrDefault(key)));
            }
            else if (item.TryGetProperty("rule", out JsonElement r))
            {
                rules++;
                string chain = r.GetProperty("chain").GetString()!;
                foreach (JsonElement expression in r.GetProperty("expr").EnumerateArray())
                {
                    if (expression.TryGetProperty("counter", out JsonElement counter) && counter.TryGetProperty("packets", out JsonElement packets))
                        drops[chain] = drops.GetValueOrDefault(chain) + packets.GetInt64();
                }
            }
        }
        return new NftView(tables, chains, rules, drops);
    }

    /// <summary>Comments of tables ("TABLE") and chains ("TABLE/CHAIN"), and chains' devices, from `nft list ruleset`.</summary>
    private static (Dictionary<string, string> Comments, Dictionary<string, string> Devices) FromText(NetNamespace ns)
    {
        var comments = new Dictionary<string, string>();
        var devices = new Dictionary<string, string>();
        string? table = null;
        string? chain = null;
        foreach (string raw in Tool.Run("ip", "netns", "exec", ns.Name, "nft", "list", "ruleset").Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith("table ", StringComparison.Ordinal)) (table, chain) = (line.Split(' ')[2], null);
            else if (line.StartsWith("chain ", StringComparison.Ordinal)) chain = line.Split(' ')[1];
            else if (line.StartsWith("comment \"", StringComparison.Ordinal) && table is not null)
                comments[chain is null ? table : $"{table}/{chain}"] = line[9..^1];
            else if (line.Contains(" device \"", StringComparison.Ordinal) && chain is not null)
                devices[$"{table}/{chain}"] = line.Split('"')[1];
        }
        return (comments, devices);
    }

    /// <summary>The packets the counted (dropping) rules of <paramref name="chain"/> have stopped.</summary>
    public long DroppedBy(string chain) => Drops.GetValueOrDefault(chain);

    /// <summary>The base chains hooked to a device's egress, by device.</summary>
    public IEnumerable<NftChain> EgressChains => Chains.Where(c => c.Hook == "egress");

    private static string? Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
