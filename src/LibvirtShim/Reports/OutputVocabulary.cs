using LibvirtShim.Lifecycle;
using LibvirtShim.Net;
using LibvirtShim.Reports.Doctor;
using LibvirtShim.State;

namespace LibvirtShim.Reports;

/// <summary>How <c>status</c>, <c>doctor</c> and the metrics word a disagreement: the metric's kind label, the text, what to do.</summary>
internal readonly record struct ProblemWords(string Kind, string Text, string Advice)
{
    /// <summary>The advice for one link or name: NAME in it stands for that name, DOMAIN for its domain, LOWER for its lower device.</summary>
    public string AdviceFor(string name, string domain = "", string lower = "") =>
        Advice.Replace("NAME", name, StringComparison.Ordinal).Replace("DOMAIN", domain, StringComparison.Ordinal)
            .Replace("LOWER", lower, StringComparison.Ordinal);
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
        AuditProblem.LinkLost => new("link_lost", "link lost while the guest runs",
            "'libvirt-shim repair DOMAIN' makes it again and plugs the NIC into the guest again (its uplink deleted and made again took it)"),
        AuditProblem.LinkLostWithUplink => new("link_lost_uplink_missing", "link lost with its uplink, which is missing",
            "bring LOWER back, then 'libvirt-shim repair DOMAIN'"),
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
        AuditProblem.DefinitionGone => new("definition_gone", "definition gone: will be freed at the next allocation or seed",
            "the domain was undefined (or redefined with another UUID, or without this NIC): the next adopt, attach-interface or arriving "
                + "migration or restore frees the name, or 'libvirt-shim seed' now"),
        AuditProblem.RunningGuestLinkDown => new("running_guest_link_down", "the guest's vCPUs run but its link is down",
            "the listener brings it up when it is connected ('libvirt-shim status' says whether it is; start or restart libvirt-shim watch); "
                + "'ip link set NAME up' does it by hand"),
        AuditProblem.GuardMissing => new("guard_missing", "guard missing: the link's guard is not in the kernel",
            "the guest sends unguarded: stop and start it, or migrate it, and its prepare puts the guard back; "
            + "'nft list table netdev TABLE' shows what is there"),
        _ => throw new ArgumentOutOfRangeException(nameof(problem), problem, null),
    };

    /// <summary>What status says of a guard table whose domain runs no guest here.</summary>
    public const string OrphanGuardText = "guard table of a domain not running here";

    public const string OrphanGuardAdvice =
        "a chain outlives its link and would guard the next link of that name: 'libvirt-shim seed' deletes it (or 'nft delete table netdev TABLE')";

    /// <summary>What to do about a link of the hook's that holds a host address.</summary>
    public static string Advice(this SpeakingLink link) => SpeakingAdvice.Replace("NAME", link.Link.Name, StringComparison.Ordinal);

    private const string SpeakingAdvice =
        "something outside libvirt-shim configured it: 'ip addr flush dev NAME' and 'ip link set NAME addrgenmode none', "
        + "and keep network managers off the hook's links";

    /// <summary>What explain says of a NIC's guard, and for an unguarded NIC, what guard it could have.</summary>
    public static string GuardText(this NicPreview nic)
    {
        string from = nic.GuardFromSetting ? "the Guard setting" : "guard=";
        return nic.Guard switch
        {
            GuardMode.Mac => $"guard mac ({from}): frames leave only with its own source MAC {nic.Nic.Mac}",
            GuardMode.Ip => $"guard ip ({from}): only as {nic.Nic.Mac}, from {string.Join(", ", nic.GuardAddresses)}; "
                + "no DHCP server, no router advertisement",
            _ => $"guard off ({from}): the guest may send as any MAC and any address; guard='mac' on its <shim:link> stops the first, "
                + $"guard='ip' ips='ADDRESSES' both (see docs/guard.md)",
        };
    }

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
