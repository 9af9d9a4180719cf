using System.Text;
using System.Text.Json;

namespace LibvirtShim.Cli;

/// <summary>The one way the admin verbs print JSON (status, explain, doctor): one indented document and a newline.</summary>
internal static class JsonOutput
{
    public static void Write(TextWriter output, Action<Utf8JsonWriter> write)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        output.WriteLine(Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length));
    }

    public static void WriteStringOrNull(this Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null) writer.WriteNull(name);
        else writer.WriteString(name, value);
    }

    /// <summary>A count or size where 0 means "not known": null then.</summary>
    public static void WriteNumberOrNull(this Utf8JsonWriter writer, string name, uint value)
    {
        if (value == 0) writer.WriteNull(name);
        else writer.WriteNumber(name, value);
    }

    /// <summary>An array named <paramref name="name"/> of one object per item, its members written by <paramref name="write"/>.</summary>
    public static void WriteObjects<T>(this Utf8JsonWriter writer, string name, IEnumerable<T> items, Action<T> write)
    {
        writer.WriteStartArray(name);
        foreach (T item in items)
        {
            writer.WriteStartObject();
            write(item);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    public static void WriteStrings(this Utf8JsonWriter writer, string name, IEnumerable<string> values)
    {
        writer.WriteStartArray(name);
        foreach (string value in values) writer.WriteStringValue(value);
        writer.WriteEndArray();
    }
}
