using LibvirtShim.Reports.Doctor;
using LibvirtShim.Lifecycle;
using LibvirtShim.State;
using LibvirtShim.Reports;

namespace LibvirtShim.Reports;

/// <summary>How <c>status</c>, <c>doctor</c> and the metrics word a disagreement: the metric's kind label, the text, what to do.</summary>
internal readonly record struct ProblemWords(string Kind, string Text, string Advice)
{
    /// <summary>The advice for one link or name: NAME in it stands for that name.</summary>
    public string AdviceFor(string name) => Advice.Replace("NAME", name, StringComparison.Ordinal);
}

/// <summary>
/// The words the admin verbs print for the typed facts they show, in tables, <c>status --json</c>, the prometheus
/// labels, <c>explain</c> and <c>doctor --json</c>: each spelled out once here, so that renaming a C# member changes
/// nothing a user or a script reads (OutputVocabularyTests pins them).
/// </summary>
internal static class OutputVocabulary
{
    public static string Word(this Holding holding) => holding switch
    {
        Holding.Reserved => "reserved",
        Holding.Defined => "defined",
        Holding.Created => "created",
        Holding.Libvirt => "libvirt",
        Holding.Foreign => "foreign",
        _ => throw new ArgumentOutOfRangeException(nameof(holding), holding, null),
    };

    public static string Word(this CheckStatus status) => status switch
    {
        CheckStatus.Ok => "ok",
        CheckStatus.Warn => "warn",
        CheckStatus.Fail => "fail",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static string Word(this LinkPresence presence) => presence switch
    {
        LinkPresence.Absent => "absent",
        LinkPresence.Up => "up",
        LinkPresence.Down => "down",
        _ => throw new ArgumentOutOfRangeException(nameof(presence), presence, null),
    };

    public static ProblemWords Words(this AuditProblem problem) => problem switch
    {
        AuditProblem.MissingLink => new("missing_link", "missing link",
            "the guest's NIC has no device: restart the guest; 'libvirt-shim seed' forgets the record"),
        AuditProblem.LinkReplaced => new("link_replaced_by_someone_else", "link replaced by someone else",
            "another link took the name: 'ip -d link show NAME' shows it; 'libvirt-shim seed' records it as foreign"),
        AuditProblem.DomainNotRunning => new("domain_not_running", "domain not running (start pending, or its release never came)",
            "unless the guest is starting now, 'libvirt-shim seed' deletes the link and frees the name"),
        AuditProblem.StaleLibvirtLink => new("stale_domain_not_running", "stale: domain not running",
            "libvirt's own macvtap of a guest that stopped: 'libvirt-shim seed' forgets it"),
        AuditProblem.ReservationExpired => new("stale_reservation_expired", "stale: reservation expired",
            "a migration or restore that never came: the next allocation or 'libvirt-shim seed' frees the name"),
        AuditProblem.ForeignLinkOnName => new("a_link_someone_else_made_sits_on_this_name", "a link someone else made sits on this name",
            "the domain cannot start with this name: delete that link ('ip link del NAME') or give the NIC another name"),
        AuditProblem.LeakedLink => new("leaked_link", "leaked link: libvirt-shim's mark, no record", "'libvirt-shim seed' deletes it"),
        AuditProblem.Unlabelled => new("unlabelled_link", "unlabelled link: a prepare was killed before marking it",
            "the domain's release deletes it, and its next prepare replaces it"),
        AuditProblem.UnlabelledUnknown => new("unlabelled_link",
            "unlabelled link: a prepare was killed before marking it; its domain is not known here",
            "the release of the domain whose start failed deletes it; if no guest is starting, 'ip link del NAME'"),
        AuditProblem.DefinitionGone => new("definition_gone", "definition gone: name freed now",
            "the domain was undefined (or redefined with another UUID) since the name was held for it: nothing to do"),
        AuditProblem.RunningGuestLinkDown => new("running_guest_link_down", "the guest's vCPUs run but its link is down",
            "the listener brings it up when it is connected ('libvirt-shim status' says whether it is; start or restart libvirt-shim watch); "
                + "'ip link set NAME up' does it by hand"),
        _ => throw new ArgumentOutOfRangeException(nameof(problem), problem, null),
    };

    /// <summary>What to do about a link of the hook's that holds a host address.</summary>
    public static string Advice(this SpeakingLink link) => SpeakingAdvice.Replace("NAME", link.Link.Name, StringComparison.Ordinal);

    private const string SpeakingAdvice =
        "something outside libvirt-shim configured it: 'ip addr flush dev NAME' and 'ip link set NAME addrgenmode none', "
        + "and keep network managers off the hook's links";

    /// <summary>What explain says prepare would do with a NIC's link.</summary>
    public static string ActionText(this NicPreview nic) => nic.Fails ? "fails" : nic.Action switch
    {
        LinkAction.Create => "create the macvtap",
        LinkAction.Keep => $"keep its macvtap from an earlier prepare (ifindex {nic.ExistingIndex})",
        LinkAction.Replace => $"replace its macvtap from an earlier prepare (ifindex {nic.ExistingIndex}: "
            + "other MAC, lower device, mode, MTU or allmulticast, down, or unlabelled)",
        _ => throw new ArgumentOutOfRangeException(nameof(nic), nic.Action, null),
    };
}
