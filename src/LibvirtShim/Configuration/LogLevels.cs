using Serilog.Events;

namespace LibvirtShim.Configuration;

internal static class LogLevels
{
    /// <summary>
    /// A level by its name only: Enum.TryParse would also take "99" (above Fatal: nothing logged, errors included) and
    /// "Debug,Error" (the flags of both, which is Fatal).
    /// </summary>
    public static LogEventLevel? Level(string? name)
    {
        foreach (LogEventLevel level in Enum.GetValues<LogEventLevel>())
        {
            if (string.Equals(name, level.ToString(), StringComparison.OrdinalIgnoreCase)) return level;
        }
        return null;
    }
}
