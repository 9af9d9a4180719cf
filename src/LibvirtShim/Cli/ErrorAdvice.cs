using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Naming;
using LibvirtShim.Netlink;

namespace LibvirtShim.Cli;

/// <summary>The one line an admin verb prints for a failure: what went wrong, then what to do about it.</summary>
internal static class ErrorAdvice
{
    private const int EPERM = 1, EACCES = 13;

    public static string For(Exception e) => Advice(e) is { } advice ? $"{Message(e)}; {advice}" : Message(e);

    /// <summary>
    /// The executable is built without the runtime's message texts (UseSystemResourceKeys): an I/O exception's message
    /// is then a resource key and its arguments ("UnauthorizedAccess_IODenied_Path, /run/libvirt/shim"). Say it in words.
    /// </summary>
    internal static string Message(Exception e)
    {
        string message = e.Message;
        int comma = message.IndexOf(", ", StringComparison.Ordinal);
        string key = comma < 0 ? message : message[..comma];
        if (key.Contains(' ') || !key.Contains('_')) return message;
        string arguments = comma < 0 ? "" : ": " + message[(comma + 2)..];
        string words = key switch
        {
            _ when key.StartsWith("UnauthorizedAccess_", StringComparison.Ordinal) => "permission denied",
            _ when key.StartsWith("IO_FileNotFound", StringComparison.Ordinal) => "no such file",
            _ when key.StartsWith("IO_PathNotFound", StringComparison.Ordinal) => "no such file or directory",
            _ when key.StartsWith("IO_FileExists", StringComparison.Ordinal) || key.StartsWith("IO_AlreadyExists", StringComparison.Ordinal) => "already exists",
            _ when key.StartsWith("IO_PathTooLong", StringComparison.Ordinal) => "path too long",
            _ when key.StartsWith("IO_SharingViolation", StringComparison.Ordinal) => "in use by another process",
            _ => $"I/O error ({key})",
        };
        return words + arguments;
    }

    private static string? Advice(Exception e) => e switch
    {
        SettingsException => $"fix it in {SettingsFile()} (or the LIBVIRT_SHIM_* variable or '-- --Name=value' override that sets it); 'libvirt-shim doctor' checks every setting",
        StateLockTimeoutException => "if no guest is starting or stopping, a libvirt-shim process may hang: look for one with 'ps -C libvirt-shim -C qemu -f' and at the log",
        StateAccessException => NotRoot() ? "run it as root" : "libvirt-shim keeps its state in StateDir, which must be a directory only root can write",
        UnauthorizedAccessException => "run it as root",
        FileCallException { Errno: EPERM or EACCES } => "run it as root",
        NetlinkException { Errno: EPERM or EACCES } => "changing links needs CAP_NET_ADMIN: run it as root",
        DomainXmlException => "check the domain XML ('virsh dumpxml DOMAIN' shows what libvirt has)",
        FileNotFoundException or DirectoryNotFoundException => "check the path",
        _ => null,
    };

    private static string SettingsFile() =>
        Environment.GetEnvironmentVariable(SettingsLoader.EnvironmentPrefix + "CONFIG") is { Length: > 0 } chosen ? chosen : SettingsLoader.DefaultFile;

    private static bool NotRoot() => Interop.Files.EffectiveUserId() != 0;
}
