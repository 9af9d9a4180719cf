using System.Globalization;
using System.Text;
using LibvirtShim.Messages;

namespace LibvirtShim.State;

/// <summary>One <c>release</c>: when, which domain, and why libvirt says the guest stopped.</summary>
internal sealed record ReleaseEntry(long At, Guid? Uuid, string Domain, string Reason)
{
    /// <summary>A domain is its UUID when known (a name can be reused by another domain), else its name.</summary>
    public string Key => Uuid is { } uuid ? uuid.ToString("N") : Domain;
}

/// <summary>
/// The last release of each domain, for <c>status</c>: the state directory's file "releases", written under the lock
/// by release, one line appended per call (no rewrite of the state for it). It is bounded: once it exceeds
/// <see cref="CompactAtBytes"/>, the next release rewrites it with the newest line of each of the
/// <see cref="KeptDomains"/> most recently released domains. Losing it loses nothing but this history.
/// </summary>
internal static class ReleaseHistory
{
    public const int CompactAtBytes = 64 * 1024;
    public const int KeptDomains = 256;
    private const int MaxFieldLength = 128;

    /// <summary>Larger than compaction ever leaves it (a line is at most about 300 bytes): anything larger is not read.</summary>
    private const int MaxFileBytes = 1024 * 1024;

    /// <summary>
    /// Appends one release, and compacts the history once it has grown past <see cref="CompactAtBytes"/>. The line starts
    /// with a newline of its own: should an earlier append have been cut short (a full disk), its remains end there and
    /// this line still reads whole.
    /// </summary>
    public static void Record(StateLease lease, ReleaseEntry entry)
    {
        long length = lease.Append(StateFile.Releases, Encoding.UTF8.GetBytes("\n" + Format(entry).TrimEnd('\n')));
        if (length > CompactAtBytes) Compact(lease);
    }

    /// <summary>The newest release of each domain, newest first; empty when there is no history (or none that can be trusted).</summary>
    public static List<ReleaseEntry> Read(StateReadLease lease)
    {
        StateFileContent content;
        try
        {
            content = lease.Read(StateFile.Releases, MaxFileBytes);
        }
        catch (ShimFailure)
        {
            return [];
        }
        return content.Bytes is { } bytes ? Latest(Parse(bytes)) : [];
    }

    /// <summary>The newest entry per domain, newest first (the later line wins a tie: lines are in call order).</summary>
    internal static List<ReleaseEntry> Latest(IEnumerable<ReleaseEntry> entries)
    {
        var newest = new Dictionary<string, (ReleaseEntry Entry, int Order)>(StringComparer.Ordinal);
        int order = 0;
        foreach (ReleaseEntry entry in entries) newest[entry.Key] = (entry, order++);
        return newest.Values.OrderByDescending(v => v.Entry.At).ThenByDescending(v => v.Order).Select(v => v.Entry).ToList();
    }

    /// <summary>"AT UUID DOMAIN REASON", tab-separated, each text escaped to one line of bounded length ("-" for no UUID).</summary>
    internal static string Format(ReleaseEntry entry) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{entry.At}\t{(entry.Uuid is { } u ? u.ToString("D") : "-")}\t{Field(entry.Domain)}\t{Field(entry.Reason)}\n");

    /// <summary>The lines that parse (a line an interrupted append left half-written does not).</summary>
    private static IEnumerable<ReleaseEntry> Parse(byte[] bytes) => Encoding.UTF8.GetString(bytes).Split('\n').Select(Parse).OfType<ReleaseEntry>();

    internal static ReleaseEntry? Parse(string line)
    {
        string[] fields = line.Split('\t');
        if (fields.Length != 4 || !long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out long at)) return null;
        Guid? uuid = fields[1] == "-" ? null : Guid.TryParseExact(fields[1], "D", out Guid g) ? g : (Guid?)null;
        if (uuid is null && fields[1] != "-") return null;
        return new ReleaseEntry(at, uuid, Messages.Printable.Unescape(fields[2]), Messages.Printable.Unescape(fields[3]));
    }

    /// <summary>Text from argv or the domain XML as a field of the file: escaped (no tab, no newline), read back by Parse.</summary>
    private static string Field(string text) => Messages.Printable.Escape(Bounded(text));

    /// <summary>Text from argv or the domain XML, its length bounded.</summary>
    internal static string Bounded(string text) => text.Length <= MaxFieldLength ? text : text[..(MaxFieldLength - 3)] + "...";

    private static void Compact(StateLease lease)
    {
        List<ReleaseEntry> kept = lease.Read(StateFile.Releases, MaxFileBytes).Bytes is { } bytes ? Latest(Parse(bytes)) : [];
        var text = new StringBuilder();
        foreach (ReleaseEntry entry in kept.Take(KeptDomains).Reverse()) text.Append(Format(entry));
        lease.Replace(StateFile.Releases, Encoding.UTF8.GetBytes(text.ToString()));
    }
}
