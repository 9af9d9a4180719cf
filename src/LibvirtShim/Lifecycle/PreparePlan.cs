using LibvirtShim.Domain;
using LibvirtShim.Netlink;
using LibvirtShim.State;

namespace LibvirtShim.Lifecycle;

/// <summary>The checks <c>prepare</c> makes, in the order it makes them: the first failing one is what it reports.</summary>
internal enum PrepareCheck { LowerDevice, Name, Passthru, HeldRecord, LowerExists, LowerUnfit, HeldLink, Mtu }

/// <summary>One check that fails for a NIC: the line prepare prints, and where the check knows it, what to give instead.</summary>
internal sealed record PrepareProblem(PrepareCheck Check, OwnedNic Nic, string Message, string? Fix = null);

/// <summary>What happens to the link on an owned NIC's name.</summary>
internal enum LinkAction { Create, Keep, Replace }

/// <summary>One owned NIC: its lower device (null when it does not resolve), the link already on its name, and what to do.</summary>
internal sealed record NicPlan(OwnedNic Nic, string? Lower, Link? LowerLink, Link? Existing, LinkAction Action);

/// <summary>Everything <c>prepare</c> would do for a domain, or why it would refuse.</summary>
internal sealed record PreparePlan(IReadOnlyList<NicPlan> Nics, IReadOnlyList<PrepareProblem> Problems, IReadOnlyList<NameRecord> StaleRecords)
{
    public PrepareProblem? Failure => Problems.OrderBy(p => p.Check).FirstOrDefault();
}
