using System.Text.RegularExpressions;
using LibvirtShim.EndToEnd.Infrastructure;

namespace LibvirtShim.Soak.Checks;

/// <summary>
/// One netdev table of the hooks' guards (issue 24), `libvirt-shim-UUID-GROUP`: its comment (the alias of the links it
/// guards, `libvirt-shim:UUID@INSTANCE`: whose table it is) and the devices its base chains are hooked to.
/// </summary>
public sealed record GuardTable(string Name, string? Comment, IReadOnlyList<string> Devices)
{
    public override string ToString() => $"table netdev {Name} ({Comment ?? "no comment"}) on [{string.Join(",", Devices)}]";
}

/// <summary>The kernel's netdev tables of the hooks, from one `nft list ruleset netdev` (both daemons' guests share the namespace).</summary>
public static partial class GuardView
{
    private const string TablePrefix = "libvirt-shim-";

    public static IReadOnlyList<GuardTable> Read()
    {
        var tables = new List<GuardTable>();
        string? name = null, comment = null;
        var devices = new List<string>();
        bool inner = false;
        foreach (string raw in Cmd.Run("nft", "list", "ruleset", "netdev").MustSucceed("nft list ruleset netdev").Stdout.Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith("table netdev ", StringComparison.Ordinal))
            {
                (name, comment, inner) = (line.Split(' ')[2], null, false);
                devices = [];
            }
            else if (name is null) continue;
            else if (line.StartsWith("chain ", StringComparison.Ordinal) || line.StartsWith("set ", StringComparison.Ordinal)) inner = true;
            else if (line == "}" && inner) inner = false;
            else if (line == "}")
            {
                if (name.StartsWith(TablePrefix, StringComparison.Ordinal)) tables.Add(new GuardTable(name, comment, devices));
                name = null;
            }
            else if (!inner && Comment().Match(line) is { Success: true } c) comment = c.Groups[1].Value;
            else if (Device().Match(line) is { Success: true } d) devices.Add(d.Groups[1].Value);
        }
        return tables;
    }

    [GeneratedRegex("^comment \"([^\"]*)\"")]
    private static partial Regex Comment();

    [GeneratedRegex("hook egress device \"([^\"]+)\"")]
    private static partial Regex Device();
}
