using System.Text;
using LibvirtShim.Domain;
using LibvirtShim.Messages;

namespace LibvirtShim.Session;

/// <summary>Where the definition of a domain is, found by its UUID, or why that cannot be known.</summary>
internal enum DefinitionLookup { Found, Gone, Unknown }

/// <summary>
/// The persistent definitions (LibvirtConfigDir/NAME.xml), looked up by UUID, as libvirt knows a domain: a file is named
/// after the domain's name, which <c>virsh domrename</c> changes (and which may hold any character but '/'), while the
/// UUID stays. The file of the name last seen is tried first; only when it is missing or holds another domain are the
/// other files read, for their &lt;uuid&gt; alone. A directory that cannot be listed, or a file that cannot be read, leaves
/// it <see cref="DefinitionLookup.Unknown"/>: a caller frees nothing on a doubt.
/// </summary>
internal static class DefinitionFiles
{
    /// <summary>Enough of a libvirt-written definition to hold its &lt;uuid&gt;, which libvirt writes after &lt;name&gt;.</summary>
    private const int HeadBytes = 4096;

    /// <summary>
    /// The definition file of <paramref name="uuid"/> (<paramref name="path"/> when found), trying <paramref name="name"/>'s first.
    /// </summary>
    public static DefinitionLookup Find(string configDir, string name, Guid uuid, out string? path)
    {
        path = null;
        string? named = name.Length > 0 && !name.Contains('/') && name is not ("." or "..") ? Path.Combine(configDir, name + ".xml") : null;
        Guid? namedUuid = named is null ? null : UuidOf(named);
        if (namedUuid == uuid)
        {
            path = named;
            return DefinitionLookup.Found;
        }
        IEnumerable<string> files;
        try
        {
            if (!Directory.Exists(configDir)) return DefinitionLookup.Unknown;
            files = Directory.EnumerateFiles(configDir, "*.xml").ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return DefinitionLookup.Unknown;
        }
        bool doubt = namedUuid is null && named is not null && File.Exists(named);
        foreach (string file in files.Where(f => f != named))
        {
            Guid? found = UuidOf(file);
            if (found == uuid)
            {
                path = file;
                return DefinitionLookup.Found;
            }
            doubt |= found is null;
        }
        return doubt ? DefinitionLookup.Unknown : DefinitionLookup.Gone;
    }

    /// <summary>
    /// The &lt;uuid&gt; of a definition file, from its first bytes (libvirt writes it near the top) or, where they do not
    /// show it, from the whole document; <see cref="Guid.Empty"/> for a well-formed file that is no domain definition (it
    /// leaves no doubt); null when the file is missing or cannot be read or parsed.
    /// </summary>
    private static Guid? UuidOf(string path)
    {
        try
        {
            if (!File.Exists(path)) return null;
            Span<byte> head = stackalloc byte[HeadBytes];
            int read = Interop.Files.ReadSmall(path, head);
            if (UuidIn(head[..read]) is { } quick) return quick;
            var document = DomainXml.Parse(DomainXml.ReadFile(path));
            if (document.Root?.Name.LocalName is not ("domain" or "domstatus")) return Guid.Empty;   // not a definition: no doubt
            return Identity.Uuid(DomainReader.DomainElement(document));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ShimFailure)
        {
            return null;
        }
    }

    /// <summary>The text of the first &lt;uuid&gt;...&lt;/uuid&gt; after &lt;domain in <paramref name="head"/>, when it is a UUID.</summary>
    private static Guid? UuidIn(ReadOnlySpan<byte> head)
    {
        int domain = head.IndexOf("<domain"u8);
        if (domain < 0) return null;
        head = head[domain..];
        int start = head.IndexOf("<uuid>"u8);
        if (start < 0) return null;
        ReadOnlySpan<byte> rest = head[(start + "<uuid>".Length)..];
        int end = rest.IndexOf("</uuid>"u8);
        return end > 0 && Guid.TryParse(Encoding.ASCII.GetString(rest[..end]).Trim(), out Guid uuid) ? uuid : null;
    }
}
