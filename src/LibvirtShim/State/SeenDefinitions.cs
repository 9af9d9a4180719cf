using System.Globalization;
using System.Text;

namespace LibvirtShim.State;

/// <summary>A definition as it was when last parsed: its domain name, its file's mtime and size then, the managed names it used.</summary>
internal sealed record SeenDefinition(string Domain, long Mtime, long Size, IReadOnlySet<string> Names);

/// <summary>
/// The definitions seen while names were held for them, by UUID: the state directory's file "definitions", one line a
/// definition ("UUID MTIME SIZE NAME,NAME DOMAIN", tab-separated). It spares parsing a definition whose file has not
/// changed, and remembers that a definition existed (so that its names go back when it is gone). Losing it costs a parse.
/// </summary>
internal static class SeenDefinitions
{
    /// <summary>Far more than a host's definitions take (a line is at most a few hundred bytes).</summary>
    private const int MaxFileBytes = 16 * 1024 * 1024;

    /// <summary>What was seen; empty when the file is missing or too large. A lease without the file's trust refuses (ShimFailure).</summary>
    public static Dictionary<Guid, SeenDefinition> Read(StateReadLease lease)
    {
        var seen = new Dictionary<Guid, SeenDefinition>();
        if (lease.Read(StateFile.Definitions, MaxFileBytes).Bytes is not { } bytes) return seen;
        foreach (string line in Encoding.UTF8.GetString(bytes).Split('\n'))
        {
            string[] f = line.Split('\t');
            if (f.Length == 5 && Guid.TryParse(f[0], out Guid uuid) && long.TryParse(f[1], CultureInfo.InvariantCulture, out long mtime)
                && long.TryParse(f[2], CultureInfo.InvariantCulture, out long size))
            {
                var names = f[3].Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
                seen[uuid] = new SeenDefinition(f[4], mtime, size, names);
            }
        }
        return seen;
    }

    public static void Write(StateLease lease, IReadOnlyDictionary<Guid, SeenDefinition> seen)
    {
        var text = new StringBuilder();
        foreach (var (uuid, d) in seen)
        {
            text.Append(CultureInfo.InvariantCulture, $"{uuid:D}\t{d.Mtime}\t{d.Size}\t{string.Join(',', d.Names)}\t{d.Domain}\n");
        }
        lease.Replace(StateFile.Definitions, Encoding.UTF8.GetBytes(text.ToString()));
    }
}
