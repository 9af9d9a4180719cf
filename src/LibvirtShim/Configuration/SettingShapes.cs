using System.Globalization;

namespace LibvirtShim.Configuration;

internal enum SettingShape { Text, Integer, Boolean, List, Map }

/// <summary>
/// Every setting's shape (a value, a list, an object of names), checked where each source gives it, before binding: the
/// configuration tree keeps no JSON types, so a string where a list belongs ("AllowedLowerDevices": "eth9") would be a
/// value the binder silently skips, an object of numbered keys would pass for a list, and an object's key that looks
/// like a number or holds a ':' (the tree's separator) would not be a key at all.
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

    /// <summary>The one setting only the environment gives (LIBVIRT_SHIM_CONFIG): it names the settings file.</summary>
    public const string EnvironmentOnly = nameof(ShimSettings.Config);

    /// <summary>
    /// The setting a key names, as declared (keys are case-insensitive); throws naming the key and where it was given when
    /// there is none, or when the setting cannot be given there.
    /// </summary>
    public static (string Name, SettingShape Shape) Find(string key, SettingSource source, string? value)
    {
        if (!Declared.TryGetValue(key, out SettingShape shape))
            throw SettingsLoader.Invalid($"unknown setting '{key}' in {source.Where(key)}; " +
                $"the settings are {string.Join(", ", Declared.Keys.Where(k => k != EnvironmentOnly))}");
        string name = Declared.Keys.First(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase));
        if (name == EnvironmentOnly && source.Origin != SettingOrigin.Variable)
            throw SettingsLoader.Invalid($"setting {name}{Shown(value)} in {source.Where(key)} cannot be given there: " +
                $"only the environment variable {SettingsLoader.EnvironmentPrefix}CONFIG names the settings file");
        return (name, shape);
    }

    public static string Expected(SettingShape shape) =>
        shape == SettingShape.List ? "a list ([\"eth0\", \"eth1\"])" : "an object ({\"name\": \"eth0\"})";

    /// <summary>What is wrong with a single value for a setting of <paramref name="shape"/>, or null.</summary>
    public static string? ScalarProblem(SettingShape shape, string? value) => shape switch
    {
        SettingShape.List or SettingShape.Map when value is { Length: > 0 } => $"must be {Expected(shape)}, not a single value",
        SettingShape.List or SettingShape.Map => null,
        _ when value is null => "must be a value, not null",
        SettingShape.Integer when !long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _) =>
            "must be a whole number",
        SettingShape.Boolean when !bool.TryParse(value, out _) => "must be true or false",
        _ => null,
    };

    /// <summary>
    /// Checks one source's settings, given as the configuration tree keys them ("StateDir", "AllowedLowerDevices:0"; the
    /// objects of names are kept apart, see <see cref="SettingSource"/>): every setting known, a value where a value
    /// belongs, a list's entries numbered and single values.
    /// </summary>
    public static void Check(SettingSource source)
    {
        foreach (IGrouping<string, string> setting in source.Values.Keys.GroupBy(k => k.Split(':')[0], StringComparer.OrdinalIgnoreCase))
        {
            string? value = source.Values.GetValueOrDefault(setting.Key);
            (string name, SettingShape shape) = Find(setting.Key, source, value);
            var entries = setting.Where(k => k.Length > setting.Key.Length).Select(k => k[(setting.Key.Length + 1)..]).ToList();
            if (Problem(shape, value, entries) is { } problem)
                throw SettingsLoader.Invalid($"setting {name}{Shown(value)} in {source.Where(setting.Key)} {problem}");
        }
    }

    private static string? Problem(SettingShape shape, string? value, List<string> entries)
    {
        if (entries.Count == 0) return ScalarProblem(shape, value);
        if (shape != SettingShape.List) return "must be a single value, not a list or object";
        if (entries.FirstOrDefault(e => !uint.TryParse(e.Split(':')[0], NumberStyles.None, CultureInfo.InvariantCulture, out _)) is not null)
            return $"must be {Expected(shape)}, not an object";
        if (entries.FirstOrDefault(e => e.Contains(':')) is { } nested)
            return $"must be {Expected(shape)} of device names: its entry {nested.Split(':')[0]} is a list or object";
        return null;
    }

    public static string Shown(string? value) => value is null ? "" : $"='{value}'";
}
