using System.Text.RegularExpressions;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>
/// The guards the hooks installed, read with the nftables program in the host's namespace (where both daemons' guests'
/// links are): a domain's netdev tables (libvirt-shim-UUID-GROUP, one per daemon instance that runs or ran it), their
/// drop counters, and the chains hooked to a link.
/// </summary>
public static partial class Guards
{
    /// <summary>The netdev tables of <paramref name="domain"/>, whichever hook made them.</summary>
    public static IReadOnlyList<string> Tables(Guid domain) =>
        Cmd.Run("nft", "list", "tables", "netdev").MustSucceed("nft list tables netdev").Stdout.Split('\n')
            .Select(l => l.Trim().Split(' ')).Where(w => w.Length == 3 && w[2].StartsWith($"libvirt-shim-{domain:D}-", StringComparison.Ordinal))
            .Select(w => w[2]).ToList();

    /// <summary>The frames the guards of <paramref name="domain"/> have dropped so far (the sum of their counters).</summary>
    public static long Dropped(Guid domain) =>
        Tables(domain).Sum(t => Counter().Matches(Cmd.Run("nft", "list", "table", "netdev", t).MustSucceed($"nft list table netdev {t}").Stdout)
            .Sum(m => long.Parse(m.Groups[1].Value)));

    /// <summary>The netdev chains hooked to the device <paramref name="link"/>, in any table (`table/chain`).</summary>
    public static IReadOnlyList<string> ChainsOn(string link)
    {
        var found = new List<string>();
        string? table = null, chain = null;
        foreach (string raw in Cmd.Run("nft", "list", "ruleset", "netdev").MustSucceed("nft list ruleset netdev").Stdout.Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith("table ", StringComparison.Ordinal)) table = line.Split(' ')[2];
            else if (line.StartsWith("chain ", StringComparison.Ordinal)) chain = line.Split(' ')[1];
            else if (line.Contains($"device \"{link}\"", StringComparison.Ordinal)) found.Add($"{table}/{chain}");
        }
        return found;
    }

    [GeneratedRegex(@"counter packets (\d+)")]
    private static partial Regex Counter();
}
