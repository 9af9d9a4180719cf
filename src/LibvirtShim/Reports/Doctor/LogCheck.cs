using LibvirtShim.Configuration;

namespace LibvirtShim.Reports.Doctor;

/// <summary>The log file (and syslog when it is on): can the hook write where the settings say?</summary>
internal static class LogCheck
{
    public static void Run(ShimSettings settings, List<DoctorCheck> checks)
    {
        const string area = "log";
        string? directory = Path.GetDirectoryName(settings.LogFile);
        bool writable = File.Exists(settings.LogFile)
            ? Interop.Files.IsWritable(settings.LogFile)
            : directory is not null && Directory.Exists(directory) && Interop.Files.IsWritable(directory);
        if (Interop.Files.Probe(settings.LogFile, followSymlinks: false) is { IsRegularFile: false })
            checks.Add(DoctorCheck.Warn(area,
                $"{settings.LogFile} is not a regular file (a FIFO, device, directory or symbolic link): the hook works but logs nothing",
                "remove it (the hook creates the log file), or set LogFile"));
        else checks.Add(writable
            ? DoctorCheck.Ok(area, $"{settings.LogFile} ({settings.LogFormat}, level {settings.LogLevel}, " +
                $"rolls at {settings.LogFileSizeLimitBytes / 1024} KiB, keeps {settings.LogRetainedFiles})")
            : DoctorCheck.Warn(area, $"{settings.LogFile} cannot be written: the hook works but logs nothing",
                $"create {directory} (root-owned), or set LogFile"));
        if (settings.Syslog)
            checks.Add(File.Exists(settings.SyslogSocket)
                ? DoctorCheck.Ok(area, $"syslog via {settings.SyslogSocket} (facility {settings.SyslogFacility})")
                : DoctorCheck.Warn(area, $"Syslog is on but {settings.SyslogSocket} does not exist: events go to the file only",
                    "start a syslog daemon (rsyslog, systemd-journald), or set Syslog to false"));
    }
}
