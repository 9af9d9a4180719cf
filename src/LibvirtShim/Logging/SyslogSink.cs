using System.Globalization;
using System.Text;
using LibvirtShim.Messages;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Display;

namespace LibvirtShim.Logging;

/// <summary>
/// Events to the local syslog daemon over its datagram socket (/dev/log), formatted as syslog(3) does:
/// <c>&lt;PRI&gt;Nov 25 20:15:00 libvirt-shim[812]: prepare web1 UUID 4.2ms: created 2 of 2 macvtaps</c>.
/// When the socket is missing or nobody reads it, events are dropped: a hook must never wait for a logger.
/// </summary>
internal sealed class SyslogSink : ILogEventSink, IDisposable
{
    public const string Tag = "libvirt-shim";
    private const int MaxDatagramBytes = 8192;
    private static readonly MessageTemplateTextFormatter Message = new("{Message:lj}");

    private readonly string _path;
    private readonly int _facility;
    private readonly int _pid = Environment.ProcessId;
    private readonly object _gate = new();
    private UnixDatagramSocket? _socket;
    private bool _tried;

    public SyslogSink(string path, int facility)
    {
        _path = path;
        _facility = facility;
    }

    public void Emit(LogEvent logEvent)
    {
        byte[] datagram = Format(logEvent, _facility, _pid);
        lock (_gate)
        {
            if (!_tried)
            {
                _tried = true;
                _socket = UnixDatagramSocket.TryConnect(_path);
            }
            if (_socket is null || _socket.TrySend(datagram)) return;
            // The daemon may have restarted (a new socket under the same path): reconnect once.
            _socket.Dispose();
            _socket = UnixDatagramSocket.TryConnect(_path);
            _socket?.TrySend(datagram);
        }
    }

    public static byte[] Format(LogEvent logEvent, int facility, int pid)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture);
        DateTimeOffset local = logEvent.Timestamp.ToLocalTime();
        text.Write($"<{facility * 8 + Severity(logEvent.Level)}>");
        text.Write(local.ToString("MMM ", CultureInfo.InvariantCulture));
        text.Write(local.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2));
        text.Write(local.ToString(" HH:mm:ss", CultureInfo.InvariantCulture));
        text.Write($" {Tag}[{pid}]: ");
        ShimTextFormatter.WriteCall(logEvent, text);
        text.Write(": ");
        Message.Format(logEvent, text);
        if (logEvent.Exception is { } e) text.Write($" ({e.GetType().Name}: {e.Message})");
        string line = Printable.Escape(text.ToString());
        byte[] bytes = Encoding.UTF8.GetBytes(line);
        if (bytes.Length <= MaxDatagramBytes) return bytes;
        int cut = MaxDatagramBytes;
        while (cut > 0 && (bytes[cut] & 0xC0) == 0x80) cut--;
        return bytes[..cut];
    }

    /// <summary>syslog severities: crit, err, warning, info, debug.</summary>
    public static int Severity(LogEventLevel level) => level switch
    {
        LogEventLevel.Fatal => 2,
        LogEventLevel.Error => 3,
        LogEventLevel.Warning => 4,
        LogEventLevel.Information => 6,
        _ => 7,
    };

    public void Dispose()
    {
        lock (_gate) _socket?.Dispose();
    }
}
