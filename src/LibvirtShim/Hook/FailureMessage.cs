using LibvirtShim.Net;
using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Logging;
using LibvirtShim.Naming;
using LibvirtShim.Netlink;

namespace LibvirtShim.Hook;

/// <summary>The one line a user sees for a failure: no stack trace, always the domain.</summary>
internal static class FailureMessage
{
    /// <summary>
    /// virsh shows the message as it is, and the log keeps one line per call: a control character taken from argv or
    /// the domain XML (a newline in a name) is escaped rather than allowed to start a line of its own.
    /// </summary>
    public static string For(Exception e, string domain) => Printable.Escape(e switch
    {
        ShimException => e.Message,
        DomainXmlException => $"domain '{domain}': {e.Message}",
        SettingsException => $"domain '{domain}': {e.Message}",
        StateAccessException or StateLockTimeoutException or StateFormatException => $"domain '{domain}': {e.Message}",
        NetlinkException or FileCallException or IOException => $"domain '{domain}': {e.Message}",
        _ => $"domain '{domain}': internal error ({e.GetType().Name}): {e.Message}",
    });
}
