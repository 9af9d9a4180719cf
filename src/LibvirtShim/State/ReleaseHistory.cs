using LibvirtShim.Net;
using System.Globalization;
using System.Text;
using LibvirtShim.State;
using Microsoft.Win32.SafeHandles;
using LibvirtShim.Messages;

namespace LibvirtShim.State;

/// <summary>One <c>release</c>: when, which domain, and why libvirt says the guest stopped.</summary>
internal sealed record ReleaseEntry(long At, Guid? Uuid, string Domain, string Reason)
{
    /// <summary>A domain is its UUID when known (a name can be reused by another domain), else its name.</summary>
    public string Key => Uuid is { } uuid ? uuid.ToString("N") : Domain;
}

/// <summary>
/// The last release of each domain, for <c>status</c>: the file "releases" beside the state, written under the state
/// lock by release, one line appended per call (no rewrite of the state for it). It is bounded: once it exceeds
/// <see cref="CompactAtBytes"/>, the next release rewrites it with the newest line of each of the
/// <see cref="KeptDomains"/> most recently released domains. Losing it loses nothing but this history.
/// </summary>
internal static class ReleaseHistory
{
    public const string FileName = "releases";
    public const int CompactAtBytes = 64 * 1024;
    public const int KeptDomains = 256;
    private const int MaxFieldLength = 128;

    public static string PathIn(string stateDir) => Path.Combine(stateDir, FileName);

    /// <summary>Appends one release; the caller holds the state lock.</summary>
    public static void Record(string stateDir, ReleaseEntry entry)
    {
        string path = PathIn(stateDir);
        StateDirectory.CheckFile(path, "release history");
        byte[] line = Encoding.UTF8.GetBytes(Format(entry));
        long length;
        using (SafeFileHandle handle = Interop.Files.OpenForAppend(path))
        {
            Interop.Files.Append(handle, line, path);
            length = RandomAccess.GetLength(handle);
        }
        if (length > CompactAtBytes) Compact(path);
    }

    /// <summary>The newest release of each domain, newest first; empty when there is no history.</summary>
    public static List<ReleaseEntry> Read(string stateDir)
    {
        string path = PathIn(stateDir);
        string text;
        try
        {
            StateDirectory.CheckFile(path, "release history");
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ShimFailure)
        {
            return [];
        }
        return Latest(text.Split('\n').Select(Parse).OfType<ReleaseEntry>());
    }

    /// <summary>The newest entry per domain, newest first (the later line wins a tie: lines are in call order).</summary>
    internal static List<ReleaseEntry> Latest(IEnumerable<ReleaseEntry> entries)
    {
        var newest = new Dictionary<string, (ReleaseEntry Entry, int Order)>(StringComparer.Ordinal);
        int order = 0;
        foreach (ReleaseEntry entry in entries) newest[entry.Key] = (entry, order++);
        return newest.Values.OrderByDescending(v => v.Entry.At).ThenByDescending(v => v.Order).Select(v => v.Entry).ToList();
    }

    /// <summary>"AT UUID DOMAIN REASON", tab-separated, each text one printable line of bounded length ("-" for no UUID).</summary>
    internal static string Format(ReleaseEntry entry) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{entry.At}\t{(entry.Uuid is { } u ? u.ToString("D") : "-")}\t{Printable(entry.Domain)}\t{Printable(entry.Reason)}\n");

    internal static ReleaseEntry? Parse(string line)
    {
        string[] fields = line.Split('\t');
        if (fields.Length != 4 || !long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out long at)) return null;
        Guid? uuid = fields[1] == "-" ? null : Guid.TryParseExact(fields[1], "D", out Guid g) ? g : (Guid?)null;
        if (uuid is null && fields[1] != "-") return null;
        return new ReleaseEntry(at, uuid, fields[2], fields[3]);
    }

    /// <summary>Text from argv or the domain XML as one line: control characters (tab, newline) escaped, length bounded.</summary>
    internal static string Printable(string text)
    {
        string line = Messages.Printable.Escape(text);
        return line.Length <= MaxFieldLength ? line : line[..(MaxFieldLength - 3)] + "...";
    }

    private static void Compact(string path)
    {
        List<ReleaseEntry> kept = Latest(File.ReadAllText(path).Split('\n').Select(Parse).OfType<ReleaseEntry>());
        var text = new StringBuilder();
        foreach (ReleaseEntry entry in kept.Take(KeptDomains).Reverse()) text.Append(Format(entry));
        string temporary = path + ".new";
        File.Delete(temporary);
        using (SafeFileHandle handle = Interop.Files.OpenForWrite(temporary))
            RandomAccess.Write(handle, Encoding.UTF8.GetBytes(text.ToString()), 0);
        File.Move(temporary, path, overwrite: true);
    }
}
