namespace LibvirtShim.Configuration;

/// <summary>Every setting, with its default. Bound from the JSON file, LIBVIRT_SHIM_* variables and --Name=value overrides.</summary>
internal sealed class ShimSettings
{
    /// <summary>The settings file itself; only meaningful from the environment (LIBVIRT_SHIM_CONFIG).</summary>
    public string? Config { get; set; }

    public string StateDir { get; set; } = "/run/libvirt/shim";
    public string LibvirtRunDir { get; set; } = "/run/libvirt/qemu";
    public string LibvirtConfigDir { get; set; } = "/etc/libvirt/qemu";
    public string NamePrefix { get; set; } = "mvtap";
    public int Capacity { get; set; } = 8192;
    public string[] AllowedLowerDevices { get; set; } = [];
    public Dictionary<string, string> Uplinks { get; set; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> Networks { get; set; } = new(StringComparer.Ordinal);
    public int ReservationSeconds { get; set; } = 600;
    public string Instance { get; set; } = "";

    /// <summary>The guard of owned NICs whose &lt;shim:link&gt; has no guard= of its own: off, mac or ip.</summary>
    public string Guard { get; set; } = "off";
    public int LockTimeoutSeconds { get; set; } = 30;
    public string LogFile { get; set; } = "/var/log/libvirt/shim.log";
    public string LogLevel { get; set; } = "Information";
    public string LogFormat { get; set; } = "text";

    /// <summary>When the log file has reached this size, the next call rolls it over to LogFile.1 (the older ones to .2, .3, ...).</summary>
    public long LogFileSizeLimitBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>How many log files are kept, the current one included (LogFile, LogFile.1, ... LogFile.N-1).</summary>
    public int LogRetainedFiles { get; set; } = 5;

    /// <summary>Also send every event to the local syslog daemon (when its socket exists).</summary>
    public bool Syslog { get; set; }

    public string SyslogSocket { get; set; } = "/dev/log";
    public string SyslogFacility { get; set; } = "daemon";
}
