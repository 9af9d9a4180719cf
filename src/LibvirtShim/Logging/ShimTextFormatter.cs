using System.Globalization;
using LibvirtShim.Messages;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;

namespace LibvirtShim.Logging;

/// <summary>
/// The readable log line: time, level, operation, domain, UUID, milliseconds since the call began, pid, message;
/// an exception follows on its own lines, each indented. Every value is escaped (<see cref="Printable"/>): a newline in a
/// domain name cannot start a line that looks like an event of its own.
/// <code>2025-11-25 20:15:00.123 +00:00 [INF] prepare web1 6d1c1a5e-1f6c-4a0e-9b55-3c2f0e3a7a11 4.2ms pid 812: created 2 of 2 macvtaps</code>
/// </summary>
internal sealed class ShimTextFormatter : ITextFormatter
{
    private static readonly MessageTemplateTextFormatter Message = new("{Message:lj}");

    public void Format(LogEvent logEvent, TextWriter output)
    {
        var line = new StringWriter(CultureInfo.InvariantCulture);
        line.Write(logEvent.Timestamp.ToString("yyyy-MM-dd HH:mm:ss.fff zzz", CultureInfo.InvariantCulture));
        line.Write(" [");
        line.Write(Level(logEvent.Level));
        line.Write("] ");
        WriteCall(logEvent, line);
        if (logEvent.Properties.TryGetValue("Pid", out LogEventPropertyValue? pid))
        {
            line.Write(" pid ");
            line.Write(Text(pid));
        }
        line.Write(": ");
        Message.Format(logEvent, line);
        output.Write(Printable.Escape(line.ToString()));
        output.Write('\n');
        if (logEvent.Exception is not null)
        {
            foreach (string exceptionLine in logEvent.Exception.ToString().Split('\n'))
            {
                output.Write("    ");
                output.Write(Printable.Escape(exceptionLine));
                output.Write('\n');
            }
        }
    }

    /// <summary>"prepare web1 UUID 4.2ms" ("-" for what the event does not carry).</summary>
    public static void WriteCall(LogEvent logEvent, TextWriter output)
    {
        output.Write(Property(logEvent, CallContext.OperationProperty));
        output.Write(' ');
        output.Write(Property(logEvent, CallContext.DomainProperty));
        output.Write(' ');
        output.Write(Property(logEvent, CallContext.UuidProperty));
        output.Write(' ');
        output.Write(Property(logEvent, CallContext.ElapsedProperty));
        output.Write("ms");
    }

    public static string Level(LogEventLevel level) => level switch
    {
        LogEventLevel.Verbose => "VRB",
        LogEventLevel.Debug => "DBG",
        LogEventLevel.Information => "INF",
        LogEventLevel.Warning => "WRN",
        LogEventLevel.Error => "ERR",
        _ => "FTL",
    };

    private static string Property(LogEvent logEvent, string name) =>
        logEvent.Properties.TryGetValue(name, out LogEventPropertyValue? value) ? Text(value) : "-";

    private static string Text(LogEventPropertyValue value) => value is ScalarValue { Value: IFormattable f }
        ? f.ToString(null, CultureInfo.InvariantCulture)
        : value is ScalarValue { Value: var v } ? v?.ToString() ?? "-" : value.ToString();
}
