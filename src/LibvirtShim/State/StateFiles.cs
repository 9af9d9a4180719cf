using Microsoft.Win32.SafeHandles;
using LibvirtShim.Messages;

namespace LibvirtShim.State;

/// <summary>How a file of the state directory is replaced: whole or not at all, whatever a crash interrupts.</summary>
internal static class StateFiles
{
    /// <summary>
    /// Writes PATH.new (mode 0600, created afresh: whatever a crash left there, even a link to another file, is removed rather
    /// than written through), fsyncs it and renames it over <paramref name="path"/>. A failure is a <see cref="ShimFailure"/>.
    /// </summary>
    public static void Replace(string path, ReadOnlySpan<byte> bytes)
    {
        string temporary = path + ".new";
        try
        {
            File.Delete(temporary);
            using (SafeFileHandle handle = Interop.Files.OpenForWrite(temporary))
            {
                RandomAccess.Write(handle, bytes, 0);
                Interop.Files.Sync(handle, temporary);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ShimFailure.OfFile(e);
        }
    }
}
