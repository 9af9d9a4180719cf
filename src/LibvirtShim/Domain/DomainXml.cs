using System.Xml;
using System.Xml.Linq;
using LibvirtShim.Messages;

namespace LibvirtShim.Domain;

/// <summary>Reads domain XML from untrusted bytes: UTF-8 only, no DTD, no entities, no external resources, bounded size and depth.</summary>
internal static class DomainXml
{
    public const int MaxBytes = 8 * 1024 * 1024;

    /// <summary>libvirt's XML is a dozen levels deep; LINQ to XML takes time quadratic in the depth (200000 levels: minutes).</summary>
    public const int MaxDepth = 256;

    /// <summary>A domain XML that cannot be read, or that the hook refuses.</summary>
    public static ShimFailure Invalid(string message) =>
        ShimFailure.WithoutDomain(message, "check the domain XML ('virsh dumpxml DOMAIN' shows what libvirt has)");

    public static XDocument Parse(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty) throw Invalid("domain XML is empty");
        if (utf8.Length > MaxBytes) throw Invalid($"domain XML is larger than {MaxBytes} bytes");
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = MaxBytes,
            MaxCharactersFromEntities = 1024,
            IgnoreProcessingInstructions = false,
            CloseInput = true,
        };
        byte[] bytes = utf8.ToArray();
        try
        {
            RequireShallow(bytes, settings);
            using XmlReader reader = Reader(bytes, settings);
            return XDocument.Load(reader, LoadOptions.PreserveWhitespace);
        }
        catch (XmlException e)
        {
            throw Invalid(NotWellFormed(e, utf8));
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw Invalid("domain XML is not valid UTF-8");
        }
    }

    /// <summary>A first pass with the reader alone (linear in the depth), so that no deep document reaches LINQ to XML.</summary>
    private static void RequireShallow(byte[] bytes, XmlReaderSettings settings)
    {
        using XmlReader reader = Reader(bytes, settings);
        while (reader.Read())
        {
            if (reader.Depth > MaxDepth) throw Invalid($"domain XML nests elements more than {MaxDepth} deep");
        }
    }

    /// <summary>
    /// Strictly UTF-8, whatever an encoding declaration or another byte order mark says (libvirt writes nothing else);
    /// a UTF-8 byte order mark, which an editor may leave in a file given to adopt, is skipped.
    /// </summary>
    private static XmlReader Reader(byte[] bytes, XmlReaderSettings settings)
    {
        int start = bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0;
        return XmlReader.Create(new StreamReader(new MemoryStream(bytes, start, bytes.Length - start, writable: false),
            new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: false), settings);
    }

    /// <summary>Reads all of a stream, refusing more than <see cref="MaxBytes"/>; a read error (EIO, a directory as stdin) is the XML's.</summary>
    public static byte[] ReadBounded(Stream input, string from = "stdin")
    {
        // Read straight into one buffer that grows, nothing copied through a MemoryStream (bench/RESULTS.md).
        byte[] buffer = new byte[16 * 1024];
        int length = 0;
        try
        {
            int n;
            while ((n = input.Read(buffer, length, buffer.Length - length)) > 0)
            {
                length += n;
                if (length > MaxBytes) throw Invalid($"domain XML is larger than {MaxBytes} bytes");
                if (length == buffer.Length) Array.Resize(ref buffer, Math.Min(buffer.Length * 2, MaxBytes + 1));
            }
        }
        catch (IOException e)
        {
            throw Invalid($"cannot read the domain XML from {from}: {e.Message}");
        }
        return buffer.AsSpan(0, length).ToArray();
    }

    /// <summary>A domain XML given to a command: a file, or "-" for stdin, read with the same bound as the hook's own input.</summary>
    public static byte[] ReadInput(string file, Stream stdin) => file == "-" ? ReadBounded(stdin) : ReadNamedFile(file);

    /// <summary>A domain XML file the user named: failing to read it is a failure naming the file.</summary>
    public static byte[] ReadNamedFile(string path)
    {
        try
        {
            return ReadFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ShimFailure.OfFile(e);
        }
    }

    /// <summary>A domain XML file (a definition, a status file, a command's input): a regular file within the bound, or an exception.</summary>
    public static byte[] ReadFile(string path)
    {
        using Microsoft.Win32.SafeHandles.SafeFileHandle handle = Interop.Files.OpenRegularForRead(path);
        if (RandomAccess.GetLength(handle) > MaxBytes) throw Invalid($"domain XML is larger than {MaxBytes} bytes");
        using var file = new FileStream(handle, FileAccess.Read, bufferSize: 0);
        return ReadBounded(file, path);
    }

    /// <summary>
    /// Where the XML breaks, in one stable line: virsh shows it to the user as it is, and the reader's own wording
    /// for a DTD would suggest enabling DTD processing.
    /// </summary>
    private static string NotWellFormed(XmlException e, ReadOnlySpan<byte> utf8)
    {
        if (utf8.IndexOf("<!DOCTYPE"u8) >= 0)
            return "domain XML has a DTD (<!DOCTYPE>), which libvirt never sends: refused without reading it (no entity is expanded)";
        return e.LineNumber > 0
            ? $"domain XML is not well-formed (line {e.LineNumber}, column {e.LinePosition})"
            : "domain XML is not well-formed";
    }
}

