using Microsoft.Extensions.Configuration;

namespace LibvirtShim.Configuration;

/// <summary>Settings from /etc/libvirt/libvirt-shim.json (or $LIBVIRT_SHIM_CONFIG), then LIBVIRT_SHIM_* variables, then overrides.</summary>
internal static class SettingsLoader
{
    public const string DefaultFile = "/etc/libvirt/libvirt-shim.json";
    public const string EnvironmentPrefix = "LIBVIRT_SHIM_";

    public static ShimSettings Load(IReadOnlyList<string>? commandLine = null)
    {
        string file = Environment.GetEnvironmentVariable(EnvironmentPrefix + "CONFIG") is { Length: > 0 } chosen ? chosen : DefaultFile;
        IConfigurationRoot root;
        try
        {
            root = new ConfigurationBuilder()
                .AddJsonFile(file, optional: !File.Exists(file) && file == DefaultFile, reloadOnChange: false)
                .AddEnvironmentVariables(EnvironmentPrefix)
                .AddCommandLine(commandLine?.ToArray() ?? [])
                .Build();
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or FormatException or System.Text.Json.JsonException or IOException)
        {
            throw new SettingsException($"settings file {file}: {FirstLine(e.Message)}");
        }

        var settings = new ShimSettings();
        try
        {
            root.Bind(settings, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            throw new SettingsException($"settings ({file}, {EnvironmentPrefix}*): {FirstLine(e.Message)}");
        }
        SettingsValidator.Validate(settings);
        return settings;
    }

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();
}

internal sealed class SettingsException(string message) : Exception(message);
