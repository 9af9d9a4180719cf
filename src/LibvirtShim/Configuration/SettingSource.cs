using Microsoft.Extensions.Configuration;

namespace LibvirtShim.Configuration;

/// <summary>Where a setting was given: the settings file, a LIBVIRT_SHIM_* variable, an override after "--".</summary>
internal enum SettingOrigin { File, Variable, Override }

/// <summary>
/// The settings one source gives, as the configuration tree keys them ("StateDir", "AllowedLowerDevices:0"), except the
/// objects of names (Uplinks, Networks), kept apart with their keys as written: a key of digits, a ':' (the tree's
/// separator, which a network's name may hold) or letters that differ only in case stays one key of its own.
/// </summary>
internal sealed class SettingSource(SettingOrigin origin, string file)
{
    public SettingOrigin Origin { get; } = origin;

    public Dictionary<string, string?> Values { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Each object of names given, by its setting's name.</summary>
    public Dictionary<string, Dictionary<string, string>> Maps { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The file, the variable or the override that gave <paramref name="key"/>, as messages name it.</summary>
    public string Where(string key) => Origin switch
    {
        SettingOrigin.File => file,
        SettingOrigin.Variable => SettingsLoader.EnvironmentPrefix + key.ToUpperInvariant(),
        _ => $"the override --{key}",
    };

    public Dictionary<string, string> MapOf(string setting) =>
        Maps.TryGetValue(setting, out Dictionary<string, string>? map) ? map : Maps[setting] = new(StringComparer.Ordinal);

    /// <summary>
    /// The variables or overrides: an object's entry is everything after its setting's name ("--Networks:tenant:a=eth0" is
    /// the network "tenant:a"), as those sources cannot nest.
    /// </summary>
    public static SettingSource FromConfiguration(SettingOrigin origin, IConfiguration configuration, string file)
    {
        var source = new SettingSource(origin, file);
        foreach ((string key, string? value) in configuration.AsEnumerable())
        {
            if (value is null) continue;
            string setting = key.Split(':')[0];
            if (key.Length > setting.Length && SettingShapes.Declared.GetValueOrDefault(setting) == SettingShape.Map)
                source.MapOf(setting)[key[(setting.Length + 1)..]] = value;
            else
                source.Values[key] = value;
        }
        return source;
    }
}
