using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;

namespace LibvirtShim.Configuration;

internal enum SettingShape { Text, Integer, Boolean, List, Map }

/// <summary>
/// The configuration tree keeps no JSON types: a string where a list belongs ("AllowedLowerDevices": "eth9") is a
/// value the binder silently skips, leaving the default (for AllowedLowerDevices: any device). So every setting's
/// shape (a value or children, list indexes, numbers, booleans) is checked on the tree before binding.
/// </summary>
internal static class SettingShapes
{
    public static readonly IReadOnlyDictionary<string, SettingShape> Declared = new Dictionary<string, SettingShape>(StringComparer.OrdinalIgnoreCase)
    {
        [nameof(ShimSettings.Config)] = SettingShape.Text,
        [nameof(ShimSettings.StateDir)] = SettingShape.Text,
        [nameof(ShimSettings.LibvirtRunDir)] = SettingShape.Text,
        [nameof(ShimSettings.LibvirtConfigDir)] = SettingShape.Text,
        [nameof(ShimSettings.NamePrefix)] = SettingShape.Text,
        [nameof(ShimSettings.Capacity)] = SettingShape.Integer,
        [nameof(ShimSettings.AllowedLowerDevices)] = SettingShape.List,
        [nameof(ShimSettings.Uplinks)] = SettingShape.Map,
        [nameof(ShimSettings.Networks)] = SettingShape.Map,
        [nameof(ShimSettings.ReservationSeconds)] = SettingShape.Integer,
        [nameof(ShimSettings.Instance)] = SettingShape.Text,
        [nameof(ShimSettings.Guard)] = SettingShape.Text,
        [nameof(ShimSettings.LockTimeoutSeconds)] = SettingShape.Integer,
        [nameof(ShimSettings.LogFile)] = SettingShape.Text,
        [nameof(ShimSettings.LogLevel)] = SettingShape.Text,
        [nameof(ShimSettings.LogFormat)] = SettingShape.Text,
        [nameof(ShimSettings.LogFileSizeLimitBytes)] = SettingShape.Integer,
        [nameof(ShimSettings.LogRetainedFiles)] = SettingShape.Integer,
        [nameof(ShimSettings.Syslog)] = SettingShape.Boolean,
        [nameof(ShimSettings.SyslogSocket)] = SettingShape.Text,
        [nameof(ShimSettings.SyslogFacility)] = SettingShape.Text,
    };

    /// <summary>Throws, naming the setting and where it was given, for the first setting that is unknown or of the wrong shape.</summary>
    public static void Check(IConfigurationRoot root, string file)
    {
        foreach (IConfigurationSection section in root.GetChildren())
        {
            string where = Origin(root, section.Key, file);
            if (!Declared.TryGetValue(section.Key, out SettingShape shape))
                throw SettingsLoader.Invalid($"unknown setting '{section.Key}' in {where}; the settings are {string.Join(", ", Declared.Keys)}");
            string name = Declared.Keys.First(k => string.Equals(k, section.Key, StringComparison.OrdinalIgnoreCase));
            if (Problem(section, shape) is { } problem)
                throw SettingsLoader.Invalid($"setting {name}{Shown(section)} in {where} {problem}");
        }
    }

    private static string? Problem(IConfigurationSection section, SettingShape shape)
    {
        List<IConfigurationSection> children = section.GetChildren().ToList();
        if (shape is SettingShape.List or SettingShape.Map)
        {
            string expected = shape == SettingShape.List ? "a list ([\"eth0\", \"eth1\"])" : "an object ({\"name\": \"eth0\"})";
            // An empty list or object comes as the value "" (and JSON null as null): both mean empty.
            if (section.Value is { Length: > 0 }) return $"must be {expected}, not a single value";
            bool indexed = children.Count > 0 && children.Select(c => c.Key).Order(StringComparer.Ordinal).SequenceEqual(
                Enumerable.Range(0, children.Count).Select(i => i.ToString(CultureInfo.InvariantCulture)).Order(StringComparer.Ordinal));
            if (shape == SettingShape.List && children.Count > 0 && !indexed) return $"must be {expected}, not an object";
            if (shape == SettingShape.Map && indexed) return $"must be {expected}, not a list";
            if (children.FirstOrDefault(c => c.Value is null) is { } entry)
                return $"must be {expected} of device names: its entry {entry.Key} is {(entry.GetChildren().Any() ? "a list or object" : "null")}";
            return null;
        }
        if (children.Count > 0) return "must be a single value, not a list or object";
        if (section.Value is not { } value) return "must be a value, not null";
        return shape switch
        {
            SettingShape.Integer when !long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _) =>
                "must be a whole number",
            SettingShape.Boolean when !bool.TryParse(value, out _) => "must be true or false",
            _ => null,
        };
    }

    private static string Shown(IConfigurationSection section) => section.Value is { } value ? $"='{value}'" : "";

    /// <summary>The file, the variable or the override that gave the setting (the last one wins, as in binding).</summary>
    private static string Origin(IConfigurationRoot root, string key, string file)
    {
        foreach (IConfigurationProvider provider in root.Providers.Reverse())
        {
            if (!provider.TryGet(key, out _) && !provider.GetChildKeys([], key).Any()) continue;
            return provider switch
            {
                EnvironmentVariablesConfigurationProvider => SettingsLoader.EnvironmentPrefix + key.ToUpperInvariant(),
                CommandLineConfigurationProvider => $"the override --{key}",
                _ => file,
            };
        }
        return file;
    }
}
