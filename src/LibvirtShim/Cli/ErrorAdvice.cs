using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Naming;
using LibvirtShim.Netlink;

namespace LibvirtShim.Cli;

/// <summary>The one line an admin verb prints for a failure: what went wrong, then what to do about it.</summary>
internal static class ErrorAdvice
{
    public static string For(Exception e) => Advice(e) is { } advice ? $"{e.Message}; {advice}" : e.Message;

    private static string? Advice(Exception e) => e switch
    {
        SettingsException => $"fix it in {SettingsLoader.ChosenFile} (or the LIBVIRT_SHIM_* variable or '-- --Name=value' override that sets it); "
            + "'libvirt-shim doctor' checks every setting",
        StateLockTimeoutException => "if no guest is starting or stopping, a libvirt-shim process may hang: look for one with 'ps -C libvirt-shim -C qemu -f' and at the log",
        StateAccessException => NotRoot() ? "run it as root" : "libvirt-shim keeps its state in StateDir, which must be a directory only root can write",
        UnauthorizedAccessException => "run it as root",
        FileCallException { Errno: Errno.EPERM or Errno.EACCES } => "run it as root",
        FileCallException { Errno: Errno.ENOENT } => "check the path",
        NetlinkException { Errno: Errno.EPERM or Errno.EACCES } => "changing links needs CAP_NET_ADMIN: run it as root",
        DomainXmlException => "check the domain XML ('virsh dumpxml DOMAIN' shows what libvirt has)",
        FileNotFoundException or DirectoryNotFoundException => "check the path",
        _ => null,
    };

    private static bool NotRoot() => Interop.Files.EffectiveUserId() != 0;
}
