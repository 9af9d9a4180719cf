using LibvirtShim.Net;

namespace LibvirtShim.Domain;

/// <summary>What the hook needs of a domain: who it is, the NICs handed to the hook, and libvirt's own macvtaps.</summary>
internal sealed record DomainDescription(
    string Name,
    Guid Uuid,
    IReadOnlyList<OwnedNic> OwnedNics,
    IReadOnlyList<LibvirtMacvtap> LibvirtMacvtaps)
{
    public bool HasMacvtaps => OwnedNics.Count > 0 || LibvirtMacvtaps.Count > 0;

    /// <summary>The state a status file (&lt;domstatus state='...'&gt;) gives the guest; null for any other document.</summary>
    public GuestState? StatusState { get; init; }
}

/// <summary>
/// An <c>&lt;interface type='ethernet'&gt;</c> with <c>&lt;target dev managed='no'/&gt;</c> whose MAC has a
/// <c>&lt;shim:link&gt;</c> in the metadata: the hook creates and deletes its macvtap.
/// Exactly one of <see cref="Source"/> (a lower device) and <see cref="Network"/> (a logical network) is set.
/// <see cref="Mtu"/> is 0 when the link takes the lower device's; <see cref="AllMulticast"/> is on unless turned off.
/// <see cref="Guard"/> is null when the NIC does not say (the Guard setting decides); <see cref="Ips"/> are the addresses a
/// guard='ip' lets it send from. <see cref="SourceMacs"/>, in source mode only, are the MACs whose frames the link passes to
/// the guest.
/// </summary>
internal sealed record OwnedNic(
    MacAddress Mac, string Name, string? Source, string? Network, MacvtapMode Mode, uint Mtu = 0, bool AllMulticast = true,
    GuardMode? Guard = null, IReadOnlyList<IpPrefix>? Ips = null, MacAddressSet? SourceMacs = null)
{
    public IReadOnlyList<IpPrefix> Addresses => Ips ?? [];

    /// <summary>The guard this NIC gets: its own guard=, else <paramref name="hostDefault"/> (the Guard setting).</summary>
    public GuardMode GuardOr(GuardMode hostDefault) => Guard ?? hostDefault;
}

/// <summary>
/// A macvtap libvirt creates itself: a <c>direct</c> NIC, or (<see cref="ThroughNetwork"/>) a <c>network</c> NIC whose actual
/// type is direct, whose lower device libvirt picks from the network's pool on each host.
/// </summary>
internal sealed record LibvirtMacvtap(MacAddress Mac, string? Name, string? Lower, MacvtapMode Mode, bool ThroughNetwork = false);

/// <summary>
/// The elements each NIC of a <see cref="DomainDescription"/> was read from, in the same order: an owned NIC's
/// &lt;interface&gt; and &lt;shim:link&gt;, a libvirt macvtap's &lt;interface&gt;. A NIC is rewritten through its own
/// elements, never found again by its MAC, which two NICs may share.
/// </summary>
internal sealed record NicElements(
    IReadOnlyList<(System.Xml.Linq.XElement Interface, System.Xml.Linq.XElement Link)> Owned, IReadOnlyList<System.Xml.Linq.XElement> Libvirt);
