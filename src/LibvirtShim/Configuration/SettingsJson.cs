using System.Globalization;
using System.Text.Json;

namespace LibvirtShim.Configuration;

/// <summary>
/// The settings file, read with its JSON types, which the configuration tree forgets: a list is an array and an object
/// of names an object, whatever their keys look like; each setting given once; <c>Config</c> not at all (the variable
/// LIBVIRT_SHIM_CONFIG names the file).
/// </summary>
internal static class SettingsJson
{
    private static readonly JsonDocumentOptions Options = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>The file's settings; a <see cref="JsonException"/> when it is not JSON, a failure naming the setting when a shape is wrong.</summary>
    public static SettingSource Read(byte[] json, string file)
    {
        var source = new SettingSource(SettingOrigin.File, file);
        using JsonDocument document = JsonDocument.Parse(json, Options);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
            throw SettingsLoader.Invalid($"settings file {file}: the settings must be one JSON object ({{\"Name\": value, ...}}), " +
                $"not {Describe(document.RootElement.ValueKind)}");
        var given = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (JsonProperty property in document.RootElement.EnumerateObject())
        {
            (string name, SettingShape shape) = SettingShapes.Find(property.Name, source, Text(property.Value));
            if (!given.Add(name)) throw SettingsLoader.Invalid($"setting {name} is given twice in {file}");
            if (Add(source, name, shape, property.Value) is { } problem)
                throw SettingsLoader.Invalid($"setting {name}{SettingShapes.Shown(Text(property.Value))} in {file} {problem}");
        }
        return source;
    }

    /// <summary>Puts one setting into <paramref name="source"/>; returns what is wrong with its shape, or null.</summary>
    private static string? Add(SettingSource source, string name, SettingShape shape, JsonElement value)
    {
        bool container = value.ValueKind is JsonValueKind.Array or JsonValueKind.Object;
        if (!container)
        {
            source.Values[name] = shape is SettingShape.List or SettingShape.Map ? Text(value) ?? "" : Text(value);
            return null;
        }
        if (shape is not (SettingShape.List or SettingShape.Map)) return "must be a single value, not a list or object";
        bool isList = value.ValueKind == JsonValueKind.Array;
        if (isList != (shape == SettingShape.List)) return $"must be {SettingShapes.Expected(shape)}, not {(isList ? "a list" : "an object")}";
        return isList ? AddList(source, name, value) : AddMap(source.MapOf(name), value);
    }

    private static string? AddList(SettingSource source, string name, JsonElement list)
    {
        int index = 0;
        foreach (JsonElement entry in list.EnumerateArray())
        {
            string key = index.ToString(CultureInfo.InvariantCulture);
            if (EntryProblem(SettingShape.List, key, entry) is { } problem) return problem;
            source.Values[$"{name}:{key}"] = Text(entry);
            index++;
        }
        if (index == 0) source.Values[name] = "";
        return null;
    }

    private static string? AddMap(Dictionary<string, string> map, JsonElement entries)
    {
        foreach (JsonProperty entry in entries.EnumerateObject())
        {
            if (EntryProblem(SettingShape.Map, entry.Name, entry.Value) is { } problem) return problem;
            if (!map.TryAdd(entry.Name, Text(entry.Value)!))
                return $"must be {SettingShapes.Expected(SettingShape.Map)} of device names: its entry {entry.Name} is given twice";
        }
        return null;
    }

    private static string? EntryProblem(SettingShape shape, string key, JsonElement entry) => entry.ValueKind switch
    {
        JsonValueKind.Array or JsonValueKind.Object =>
            $"must be {SettingShapes.Expected(shape)} of device names: its entry {key} is a list or object",
        JsonValueKind.Null => $"must be {SettingShapes.Expected(shape)} of device names: its entry {key} is null",
        _ => null,
    };

    /// <summary>A single value as the configuration tree holds it (true is "True"); null for JSON null or a list or object.</summary>
    private static string? Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => bool.TrueString,
        JsonValueKind.False => bool.FalseString,
        _ => null,
    };

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "a list",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.Null => "null",
        _ => "true or false",
    };
}
