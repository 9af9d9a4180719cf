using System.Globalization;
using System.Text;

namespace LibvirtShim.Messages;

/// <summary>
/// Text from outside (a domain name from argv or the XML, a device or file name) as a log line, stderr or a table shows
/// it: control characters and line separators escaped (<c>\x0a</c>, <c>\u2028</c>), so that no value can start a line
/// of its own, forge a log line or drive a terminal. The one place where anything is escaped for display.
/// </summary>
internal static class Printable
{
    public static bool NeedsEscape(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';

    public static string Escape(string? text)
    {
        if (text is null) return "";
        int first = IndexOfEscaped(text);
        if (first < 0) return text;
        var escaped = new StringBuilder(text.Length + 8).Append(text, 0, first);
        for (int i = first; i < text.Length; i++) Append(escaped, text[i]);
        return escaped.ToString();
    }

    private static int IndexOfEscaped(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (NeedsEscape(text[i])) return i;
        }
        return -1;
    }

    private static void Append(StringBuilder escaped, char c)
    {
        if (!NeedsEscape(c)) escaped.Append(c);
        else if (c <= 0xFF) escaped.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
        else escaped.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
    }
}

/// <summary>
/// A text output (status, explain, doctor tables) through <see cref="Printable"/>: whatever is written is escaped, only
/// the line ends of WriteLine pass.
/// </summary>
internal sealed class PrintableWriter(TextWriter inner) : TextWriter
{
    public override Encoding Encoding => inner.Encoding;
    public override void Write(char value) => inner.Write(Printable.NeedsEscape(value) ? Printable.Escape(value.ToString()) : value);
    public override void Write(string? value) => inner.Write(Printable.Escape(value));
    public override void WriteLine() => inner.Write('\n');
    public override void WriteLine(string? value) => inner.Write(Printable.Escape(value) + "\n");
    public override void Flush() => inner.Flush();
}
