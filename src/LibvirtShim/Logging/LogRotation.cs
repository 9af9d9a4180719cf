using Microsoft.Win32.SafeHandles;

namespace LibvirtShim.Logging;

/// <summary>
/// Rolls the log over the way logrotate names files, so that LogFile is always the current log: when it has reached
/// its size limit, shim.log becomes shim.log.1, shim.log.1 becomes shim.log.2, and so on, the oldest beyond the
/// retained count deleted. Every hook call is a process of its own and writes little, so checking once, when a call
/// opens its log, is enough; a lock file beside the log makes one process of several roll it. A process still
/// writing to the file it had open goes on in shim.log.1, which loses nothing.
/// </summary>
internal static class LogRotation
{
    private static readonly TimeSpan LockWait = TimeSpan.FromMilliseconds(500);

    public static void RollIfFull(string logFile, long limit, int retainedFiles)
    {
        if (!IsFull(logFile, limit)) return;
        try
        {
            using SafeFileHandle? lockFile = TakeLock(logFile + ".lock");
            if (lockFile is null || !IsFull(logFile, limit)) return;
            for (int i = retainedFiles - 1; i >= 1; i--)
            {
                string older = Numbered(logFile, i);
                if (!File.Exists(older)) continue;
                if (i == retainedFiles - 1) File.Delete(older);
                else File.Move(older, Numbered(logFile, i + 1), overwrite: true);
            }
            if (retainedFiles > 1) File.Move(logFile, Numbered(logFile, 1), overwrite: true);
            else File.Delete(logFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A log that cannot be rolled is still written to; the next call tries again.
        }
    }

    public static string Numbered(string logFile, int number) => $"{logFile}.{number}";

    private static bool IsFull(string logFile, long limit)
    {
        try
        {
            var info = new FileInfo(logFile);
            return info.Exists && info.Length >= limit;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The lock, or null when another process keeps it longer than <see cref="LockWait"/> (it is rolling the log).</summary>
    private static SafeFileHandle? TakeLock(string path)
    {
        SafeFileHandle handle = Interop.Files.OpenLockFile(path);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!Interop.Files.TryLockExclusive(handle, path))
        {
            if (waited.Elapsed > LockWait)
            {
                handle.Dispose();
                return null;
            }
            Thread.Sleep(5);
        }
        return handle;
    }
}
