using LibvirtShim.Net;

namespace LibvirtShim.Configuration;

/// <summary>Refuses settings that would make the hook misbehave, before anything is touched.</summary>
internal static class SettingsValidator
{
    private static readonly string[] LibvirtPrefixes = ["macvtap", "macvlan", "vnet"];

    public static void Validate(ShimSettings s)
    {
        foreach (var (name, path) in new[] { ("StateDir", s.StateDir), ("LibvirtRunDir", s.LibvirtRunDir),
            ("LibvirtConfigDir", s.LibvirtConfigDir), ("LogFile", s.LogFile), ("SyslogSocket", s.SyslogSocket) })
        {
            if (!Path.IsPathRooted(path)) Fail(name, path, "must be an absolute path");
        }
        if (s.StateDir.Split('/').Contains("..")) Fail("StateDir", s.StateDir, "must not contain '..' (name the directory itself)");
        ValidatePrefix(s);
        if (s.Instance.Length > 64 || s.Instance.Any(c => c == '@' || char.IsWhiteSpace(c) || char.IsControl(c)))
            Fail("Instance", s.Instance, "must be at most 64 characters without '@' or white space");
        if (!GuardModes.TryParse(s.Guard, out _)) Fail("Guard", s.Guard, $"must be {GuardModes.Choices}");
        if (s.Capacity is < 1 or > 1_000_000) Fail("Capacity", s.Capacity, "must be between 1 and 1000000");
        if ((s.NamePrefix + (s.Capacity - 1)).Length > InterfaceName.MaxLength)
            Fail("Capacity", s.Capacity, $"names {s.NamePrefix}0..{s.NamePrefix}{s.Capacity - 1} would exceed {InterfaceName.MaxLength} bytes");
        if (s.LockTimeoutSeconds is < 1 or > 3600) Fail("LockTimeoutSeconds", s.LockTimeoutSeconds, "must be between 1 and 3600");
        if (s.ReservationSeconds is < 1 or > 7 * 86400) Fail("ReservationSeconds", s.ReservationSeconds, "must be between 1 and 604800");
        foreach (string device in s.AllowedLowerDevices) ValidateDevice("AllowedLowerDevices", device);
        foreach (var (from, to) in s.Uplinks) { ValidateDevice("Uplinks", from); ValidateDevice($"Uplinks:{from}", to); }
        foreach (var (network, device) in s.Networks)
        {
            if (network.Length == 0) Fail("Networks", network, "has an empty network name");
            ValidateDevice($"Networks:{network}", device);
        }
        if (LogLevels.Level(s.LogLevel) is null)
            Fail("LogLevel", s.LogLevel, "must be Verbose, Debug, Information, Warning, Error or Fatal");
        if (s.LogFormat is not ("text" or "json")) Fail("LogFormat", s.LogFormat, "must be text or json");
        if (s.LogFileSizeLimitBytes is < 4096 or > 1L << 40) Fail("LogFileSizeLimitBytes", s.LogFileSizeLimitBytes,
            "must be between 4096 and 1099511627776");
        if (s.LogRetainedFiles is < 1 or > 1000) Fail("LogRetainedFiles", s.LogRetainedFiles, "must be between 1 and 1000");
        if (SyslogFacilities.Code(s.SyslogFacility) is null)
            Fail("SyslogFacility", s.SyslogFacility, $"must be one of {string.Join(", ", SyslogFacilities.Names)}");
    }

    private static void ValidatePrefix(ShimSettings s)
    {
        string prefix = s.NamePrefix;
        if (prefix.Length == 0 || !prefix.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') || char.IsAsciiDigit(prefix[^1]))
            Fail("NamePrefix", prefix, "must be ASCII letters, digits, '-' or '_', not ending in a digit");
        if (LibvirtPrefixes.Any(p => prefix.StartsWith(p, StringComparison.Ordinal)))
            Fail("NamePrefix", prefix, "must not start with macvtap, macvlan or vnet (libvirt generates those names itself)");
    }

    private static void ValidateDevice(string setting, string device)
    {
        if (InterfaceName.Problem(device) is { } problem) Fail(setting, device, $"is not a valid interface name: it {problem}");
    }

    private static void Fail(string setting, object? value, string problem) =>
        throw SettingsLoader.Invalid($"setting {setting}='{value}' {problem}");
}
