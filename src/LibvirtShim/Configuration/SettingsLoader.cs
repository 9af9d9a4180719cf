using LibvirtShim.Messages;
using Microsoft.Extensions.Configuration;
using Microsoft.Win32.SafeHandles;

namespace LibvirtShim.Configuration;

/// <summary>Settings from /etc/libvirt/libvirt-shim.json (or $LIBVIRT_SHIM_CONFIG), then LIBVIRT_SHIM_* variables, then overrides.</summary>
internal static class SettingsLoader
{
    public const string DefaultFile = "/etc/libvirt/libvirt-shim.json";
    public const string EnvironmentPrefix = "LIBVIRT_SHIM_";

    /// <summary>A settings file is a few hundred bytes; anything near this is not one.</summary>
    public const int MaxFileBytes = 1024 * 1024;

    /// <summary>The settings file read: $LIBVIRT_SHIM_CONFIG when set, else the default.</summary>
    public static string ChosenFile =>
        Environment.GetEnvironmentVariable(EnvironmentPrefix + "CONFIG") is { Length: > 0 } chosen ? chosen : DefaultFile;

    public static ShimSettings Load(IReadOnlyList<string>? commandLine = null) => Load(ChosenFile, commandLine);

    /// <summary>A setting, or the settings file, that the hook cannot use.</summary>
    public static ShimFailure Invalid(string message) => ShimFailure.WithoutDomain(message,
        $"fix it in {ChosenFile} (or the LIBVIRT_SHIM_* variable or '-- --Name=value' override that sets it); " +
            "'libvirt-shim doctor' checks every setting");

    public static ShimSettings Load(string file, IReadOnlyList<string>? commandLine)
    {
        SettingSource[] sources = [ReadFileSettings(file), Variables(file), Overrides(file, commandLine)];
        foreach (SettingSource source in sources) SettingShapes.Check(source);
        var builder = new ConfigurationBuilder();
        foreach (SettingSource source in sources) builder.AddInMemoryCollection(source.Values);
        var settings = new ShimSettings();
        try
        {
            builder.Build().Bind(settings, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            throw Invalid($"settings ({file}, {EnvironmentPrefix}*): {FirstLine(e.Message)}");
        }
        settings.Uplinks = Merged(sources, nameof(ShimSettings.Uplinks));
        settings.Networks = Merged(sources, nameof(ShimSettings.Networks));
        SettingsValidator.Validate(settings);
        return settings;
    }

    private static SettingSource ReadFileSettings(string file)
    {
        try
        {
            return ReadFile(file) is { } json ? SettingsJson.Read(json, file) : new SettingSource(SettingOrigin.File, file);
        }
        catch (Exception e) when (e is InvalidDataException or System.Text.Json.JsonException or IOException)
        {
            throw Invalid($"settings file {file}: {FirstLine(e.Message)}");
        }
    }

    private static SettingSource Variables(string file) =>
        SettingSource.FromConfiguration(SettingOrigin.Variable, new ConfigurationBuilder().AddEnvironmentVariables(EnvironmentPrefix).Build(), file);

    private static SettingSource Overrides(string file, IReadOnlyList<string>? commandLine)
    {
        try
        {
            return SettingSource.FromConfiguration(SettingOrigin.Override,
                new ConfigurationBuilder().AddCommandLine(commandLine?.ToArray() ?? []).Build(), file);
        }
        catch (FormatException e)
        {
            throw Invalid($"setting overrides ({string.Join(' ', commandLine ?? [])}): {FirstLine(e.Message)}");
        }
    }

    /// <summary>An object of names from every source, a later source's entry replacing an earlier one of the same key.</summary>
    private static Dictionary<string, string> Merged(SettingSource[] sources, string setting)
    {
        var merged = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (SettingSource source in sources)
        {
            foreach ((string key, string value) in source.Maps.GetValueOrDefault(setting) ?? []) merged[key] = value;
        }
        return merged;
    }

    /// <summary>The file's bytes; null for a missing default file. Never waits: a FIFO or device is refused.</summary>
    private static byte[]? ReadFile(string file)
    {
        SafeFileHandle handle;
        try
        {
            handle = Interop.Files.OpenRegularForRead(file);
        }
        catch (FileCallException e) when (e.IsMissing && file == DefaultFile)
        {
            return null;
        }
        using (handle)
        {
            long length = RandomAccess.GetLength(handle);
            if (length > MaxFileBytes) throw new IOException($"{length} bytes, larger than any settings file ({MaxFileBytes} at most)");
            byte[] bytes = new byte[length];
            int read = 0, n;
            while (read < bytes.Length && (n = RandomAccess.Read(handle, bytes.AsSpan(read), read)) > 0) read += n;
            return bytes[..read];
        }
    }

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();
}

