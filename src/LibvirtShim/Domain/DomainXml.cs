using System.Xml;
using System.Xml.Linq;

namespace LibvirtShim.Domain;

/// <summary>Reads domain XML from untrusted bytes: no DTD, no entities, no external resources, bounded size.</summary>
internal static class DomainXml
{
    public const int MaxBytes = 8 * 1024 * 1024;

    public static XDocument Parse(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty) throw new DomainXmlException("domain XML is empty");
        if (utf8.Length > MaxBytes) throw new DomainXmlException($"domain XML is larger than {MaxBytes} bytes");
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = MaxBytes,
            MaxCharactersFromEntities = 1024,
            IgnoreProcessingInstructions = false,
            CloseInput = true,
        };
        try
        {
            using var stream = new MemoryStream(utf8.ToArray(), writable: false);
            using var reader = XmlReader.Create(new StreamReader(stream, new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true)), settings);
            return XDocument.Load(reader, LoadOptions.PreserveWhitespace);
        }
        catch (XmlException e)
        {
            throw new DomainXmlException($"domain XML is not well-formed: {FirstLine(e.Message)}");
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new DomainXmlException("domain XML is not valid UTF-8");
        }
    }

    /// <summary>Reads all of a stream, refusing more than <see cref="MaxBytes"/>.</summary>
    public static byte[] ReadBounded(Stream input)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int n;
        while ((n = input.Read(chunk)) > 0)
        {
            if (buffer.Length + n > MaxBytes)
                throw new DomainXmlException($"domain XML is larger than {MaxBytes} bytes");
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    private static string FirstLine(string text)
    {
        int end = text.IndexOfAny(['\r', '\n']);
        return end < 0 ? text : text[..end];
    }
}

internal sealed class DomainXmlException(string message) : Exception(message);
