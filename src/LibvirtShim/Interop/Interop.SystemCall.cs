using System.Runtime.InteropServices;

internal static partial class Interop
{
    /// <summary>
    /// Makes a system call, again for as long as a signal interrupts it (EINTR). Returns its result; when that is
    /// negative, <paramref name="errno"/> says why. A static lambda and a struct of arguments: nothing is allocated.
    /// </summary>
    internal static nint Retrying<TArguments>(TArguments arguments, Func<TArguments, nint> call, out Errno errno)
    {
        while (true)
        {
            nint result = call(arguments);
            if (result >= 0)
            {
                errno = Errno.None;
                return result;
            }
            errno = LastErrno();
            if (errno != Errno.EINTR) return result;
        }
    }

    internal static Errno LastErrno() => (Errno)Marshal.GetLastPInvokeError();
}

/// <summary>A system call on a file failed: the call, the path and the errno.</summary>
internal sealed class FileCallException(string call, string path, Errno errno)
    : IOException($"{call} {path}: {Marshal.GetPInvokeErrorMessage((int)errno)} (errno {(int)errno})")
{
    public Errno Errno { get; } = errno;

    public bool IsSymlinkRefused => Errno == Errno.ELOOP; // from O_NOFOLLOW

    public bool IsMissing => Errno == Errno.ENOENT;
}
