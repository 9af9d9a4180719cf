using LibvirtShim.Net;

namespace LibvirtShim.Naming;

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
/// <see cref="KeptByDefinition"/> marks a created link whose name the domain's definition keeps after release;
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
    bool KeptByDefinition = false,
    GuardMode Guard = GuardMode.Off)
{
    public bool IsLink => Holding is Holding.Created or Holding.Libvirt or Holding.Foreign;

    /// <summary>The domain's definition keeps this name: held for it, or a created link whose name outlives the link.</summary>
    public bool IsKeptByDefinition => Holding == Holding.Defined || KeptByDefinition;

    /// <summary>The name is kept for <paramref name="domain"/>'s definition: a new hold for that domain keeps it so.</summary>
    public static bool IsKeptFor(NameRecord? record, Guid domain) => record is not null && record.Domain == domain && record.IsKeptByDefinition;
}
