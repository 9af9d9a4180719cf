using System.Text;
using Microsoft.Win32.SafeHandles;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace LibvirtShim.Logging;

/// <summary>
/// The log file, shared by every hook process: each event is formatted whole and written with one write(2) to a file
/// opened O_APPEND, so concurrent hooks' lines land one after another, never over each other, and no lock is needed.
/// With <paramref name="followRotation"/> (a long-running process), each event first checks (one statx) that the path still
/// names the file it has open, and opens it again when a hook call has rolled it over.
/// </summary>
internal sealed class AppendFileSink(string path, ITextFormatter formatter, bool followRotation = false) : ILogEventSink, IDisposable
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);
    private readonly object _gate = new();
    private SafeFileHandle? _file;
    private ulong _inode;
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
                if (followRotation && _file is not null && Interop.Files.Probe(path, followSymlinks: true)?.Inode != _inode)
                {
                    _file.Dispose();
                    _file = null;
                }
                if (_file is null)
                {
                    _file = Interop.Files.OpenForAppend(path);
                    _inode = followRotation ? Interop.Files.Probe(path, followSymlinks: true)?.Inode ?? 0 : 0;
                }
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
