using System.Globalization;
using System.Text;

namespace LibvirtShim.Messages;

/// <summary>
/// Text from outside (a domain name from argv or the XML, a device or file name) as a log line, stderr or a table shows
/// it: control characters, line and paragraph separators, format characters (bidi overrides such as U+202E, zero-width
/// characters) and lone surrogates escaped (<c>\x0a</c>, <c>\u202e</c>), and the backslash itself (<c>\\</c>), so that
/// no value can start a line of its own, forge a log line, drive a terminal or reorder what is shown, and two different
/// values never print the same (<see cref="Unescape"/> reads it back). The one place where anything is escaped for
/// display; each output escapes once, so what passes between layers is the raw text.
/// </summary>
internal static class Printable
{
    /// <summary>A character that is never written as it is (the backslash is escaped too, but is shown, as <c>\\</c>).</summary>
    public static bool NeedsEscape(char c) =>
        char.IsControl(c) || char.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.LineSeparator
            or UnicodeCategory.ParagraphSeparator;

    public static string Escape(string? text)
    {
        if (text is null) return "";
        int first = IndexOfEscaped(text);
        if (first < 0) return text;
        var escaped = new StringBuilder(text.Length + 8).Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (IsPairAt(text, i))
            {
                escaped.Append(c).Append(text[++i]);
                continue;
            }
            Append(escaped, c);
        }
        return escaped.ToString();
    }

    /// <summary>The text <see cref="Escape"/> was given; a backslash that begins no escape it writes is kept as it is.</summary>
    public static string Unescape(string text)
    {
        if (!text.Contains('\\')) return text;
        var raw = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 1 < text.Length)
            {
                int digits = text[i + 1] switch { 'x' => 2, 'u' => 4, _ => 0 };
                if (text[i + 1] == '\\')
                {
                    raw.Append('\\');
                    i++;
                    continue;
                }
                if (digits > 0 && i + 2 + digits <= text.Length
                    && ushort.TryParse(text.AsSpan(i + 2, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort code))
                {
                    raw.Append((char)code);
                    i += 1 + digits;
                    continue;
                }
            }
            raw.Append(text[i]);
        }
        return raw.ToString();
    }

    private static bool IsPairAt(string text, int i) =>
        char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);

    private static int IndexOfEscaped(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\\' || NeedsEscape(c)) return i;
            if (char.IsSurrogate(c))
            {
                if (!IsPairAt(text, i)) return i;
                i++;
            }
        }
        return -1;
    }

    /// <summary>One character that is not part of a surrogate pair.</summary>
    internal static void Append(StringBuilder escaped, char c)
    {
        if (c == '\\') escaped.Append("\\\\");
        else if (!NeedsEscape(c) && !char.IsSurrogate(c)) escaped.Append(c);
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
    /// <summary>A character written alone is not part of a pair: a lone surrogate is escaped.</summary>
    public override void Write(char value)
    {
        var one = new StringBuilder(6);
        Printable.Append(one, value);
        inner.Write(one.ToString());
    }

    public override void Write(string? value) => inner.Write(Printable.Escape(value));
    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));
    public override void Write(ReadOnlySpan<char> buffer) => Write(new string(buffer));
    public override void WriteLine() => inner.Write('\n');
    public override void WriteLine(string? value) => inner.Write(Printable.Escape(value) + "\n");
    public override void Flush() => inner.Flush();
}
