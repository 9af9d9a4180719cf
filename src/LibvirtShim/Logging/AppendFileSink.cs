using System.Text;
using Microsoft.Win32.SafeHandles;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace LibvirtShim.Logging;

/// <summary>
/// The log file, shared by every hook process: each event is formatted whole and written with one write(2) to a file
/// opened O_APPEND, so concurrent hooks' lines land one after another, never over each other, and no lock is needed.
/// </summary>
internal sealed class AppendFileSink(string path, ITextFormatter formatter) : ILogEventSink, IDisposable
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);
    private readonly object _gate = new();
    private SafeFileHandle? _file;
    private bool _failed;

    public void Emit(LogEvent logEvent)
    {
        var text = new StringWriter();
        formatter.Format(logEvent, text);
        byte[] bytes = Utf8.GetBytes(text.ToString());
        lock (_gate)
        {
            if (_failed) return;
            try
            {
                _file ??= Interop.Files.OpenForAppend(path);
                Interop.Files.Append(_file, bytes, path);
            }
            catch (IOException)
            {
                _failed = true; // a log that cannot be written must not fail the hook call
            }
        }
    }

    public void Dispose()
    {
        lock (_gate) _file?.Dispose();
    }
}
