using LibvirtShim.Configuration;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Compact;

namespace LibvirtShim.Logging;

/// <summary>
/// The log: readable text (<see cref="ShimTextFormatter"/>) or compact JSON (Serilog's rendered CLEF, one object per
/// line) in LogFile, shared by concurrent hooks and rolled over by size (<see cref="LogRotation"/>: LogFile is always
/// the current log, shim.log.1 the one before); optionally every event to syslog as well.
/// Every event of a call carries operation, domain, UUID and elapsed time (<see cref="CallLog"/>).
/// </summary>
internal static class ShimLog
{
    public static Logger Create(ShimSettings settings) => Create(settings, followRotation: false);

    /// <param name="settings">The log's settings.</param>
    /// <param name="followRotation">For a long-running process (the listener): the file is opened again once a hook call has
    /// rolled it over, so its lines go on landing in LogFile.</param>
    public static Logger Create(ShimSettings settings, bool followRotation)
    {
        LogEventLevel level = LogLevels.Level(settings.LogLevel) ?? LogEventLevel.Information;
        var configuration = new LoggerConfiguration().MinimumLevel.Is(level).Enrich.WithProperty("Pid", Environment.ProcessId);
        if (settings.Syslog && SyslogFacilities.Code(settings.SyslogFacility) is { } facility && File.Exists(settings.SyslogSocket))
            configuration.WriteTo.Sink(new SyslogSink(settings.SyslogSocket, facility));
        if (TryCreateLogDirectory(settings.LogFile))
        {
            LogRotation.RollIfFull(settings.LogFile, settings.LogFileSizeLimitBytes, settings.LogRetainedFiles);
            ITextFormatter formatter = settings.LogFormat == "json" ? new RenderedCompactJsonFormatter() : new ShimTextFormatter();
            configuration.WriteTo.Sink(new AppendFileSink(settings.LogFile, formatter, followRotation));
        }
        return configuration.CreateLogger();
    }

    /// <summary>Without a log directory the hook still works, it only logs nothing to the file.</summary>
    private static bool TryCreateLogDirectory(string logFile)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(logFile)!);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
