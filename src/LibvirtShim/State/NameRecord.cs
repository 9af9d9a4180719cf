using LibvirtShim.Net;

namespace LibvirtShim.State;

/// <summary>Why a name is held.</summary>
internal enum Holding : byte
{
    /// <summary>Promised to a domain arriving by migration or restore; expires unless its prepare comes.</summary>
    Reserved = 1,
    /// <summary>Written into a persistent definition (by adopt, or found by seeding); no link now.</summary>
    Defined = 2,
    /// <summary>A macvtap the hook created for the domain.</summary>
    Created = 3,
    /// <summary>A macvtap libvirt created for the domain itself (a direct NIC).</summary>
    Libvirt = 4,
    /// <summary>A link nobody here created sits on a managed name.</summary>
    Foreign = 5,
}

/// <summary>
/// Who holds a name, and for what. Foreign records have no domain. <see cref="ExpiresAt"/> (unix seconds) ends a
/// reservation, and a hold for a definition not yet written (adopt's output before <c>virsh define</c>);
/// <see cref="InDefinitionToo"/>: the domain's persistent definition names it as well (a created link or a reservation
/// of a defined domain), so when the link or the reservation goes the name stays held for the definition.
/// <see cref="Guard"/> is the guard prepare put on a created link (its chains live in the domain's netdev table).
/// </summary>
internal sealed record NameRecord(
    string Name,
    Holding Holding,
    Guid Domain,
    string DomainName,
    MacAddress Mac = default,
    string Lower = "",
    MacvtapMode Mode = MacvtapMode.Bridge,
    int Ifindex = 0,
    long ExpiresAt = 0,
    bool InDefinitionToo = false,
    GuardMode Guard = GuardMode.Off)
{
    public bool IsLink => Holding is Holding.Created or Holding.Libvirt or Holding.Foreign;

    /// <summary>The name belongs to the domain's persistent definition: held for it, or held otherwise and named by it too.</summary>
    public bool IsInDefinition => Holding == Holding.Defined || InDefinitionToo;

    /// <summary>The name belongs to <paramref name="domain"/>'s definition: a new hold of it for that domain carries that on.</summary>
    public static bool IsInDefinitionOf(NameRecord? record, Guid domain) => record is not null && record.Domain == domain && record.IsInDefinition;
}
