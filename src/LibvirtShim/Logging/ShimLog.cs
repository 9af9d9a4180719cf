using LibvirtShim.Configuration;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace LibvirtShim.Logging;

/// <summary>The log file: one structured event per call, readable text or compact JSON, rotated by size, shared by concurrent hooks.</summary>
internal static class ShimLog
{
    private const long FileSizeLimit = 10 * 1024 * 1024;
    private const int RetainedFiles = 5;

    public static Logger Create(ShimSettings settings)
    {
        var level = Enum.Parse<LogEventLevel>(settings.LogLevel, ignoreCase: true);
        var configuration = new LoggerConfiguration().MinimumLevel.Is(level).Enrich.WithProperty("Pid", Environment.ProcessId);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(settings.LogFile)!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return configuration.CreateLogger();
        }
        if (settings.LogFormat == "json")
            configuration.WriteTo.File(new CompactJsonFormatter(), settings.LogFile, shared: true,
                fileSizeLimitBytes: FileSizeLimit, rollOnFileSizeLimit: true, retainedFileCountLimit: RetainedFiles);
        else
            configuration.WriteTo.File(settings.LogFile, shared: true, fileSizeLimitBytes: FileSizeLimit, rollOnFileSizeLimit: true,
                retainedFileCountLimit: RetainedFiles,
                outputTemplate: "{Timestamp:yyyy-MM-dd HH:mm:ss.fff zzz} [{Level:u3}] [{Pid}] {Message:lj}{NewLine}{Exception}");
        return configuration.CreateLogger();
    }
}
