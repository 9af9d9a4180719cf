using System.Security.Cryptography;

namespace LibvirtShim.Benchmarks.Support;

/// <summary>A private directory for one benchmark's state, on tmpfs (/dev/shm) unless BENCH_STATE_PARENT names another place.</summary>
internal static class WorkDir
{
    public static string Parent =>
        Environment.GetEnvironmentVariable("BENCH_STATE_PARENT") is { Length: > 0 } parent ? parent
        : Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();

    public static string Create(string prefix)
    {
        string path = Path.Combine(Parent, prefix + Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant());
        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }
}
