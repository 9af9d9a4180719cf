using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Naming;
using LibvirtShim.Netlink;

namespace LibvirtShim.Hook;

/// <summary>The one line a user sees for a failure: no stack trace, always the domain.</summary>
internal static class FailureMessage
{
    public static string For(Exception e, string domain) => e switch
    {
        ShimException => e.Message,
        DomainXmlException => $"domain '{domain}': {e.Message}",
        SettingsException => $"domain '{domain}': {e.Message}",
        StateAccessException or StateLockTimeoutException or StateFormatException => $"domain '{domain}': {e.Message}",
        NetlinkException or FileCallException or IOException => $"domain '{domain}': {e.Message}",
        _ => $"domain '{domain}': internal error ({e.GetType().Name}): {e.Message}",
    };
}
