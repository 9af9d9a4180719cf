using System.Buffers.Binary;
using LibvirtShim.Netlink;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// How a link the hook created is recognised in the kernel, even with the state lost: its netdev group, set atomically
/// at creation (0x80000000 | the UUID's first 31 bits, one group per domain, so a domain's links go in one deletion),
/// and its alias "libvirt-shim:UUID", which only root can set.
/// </summary>
internal static class LinkMarker
{
    private const string AliasPrefix = "libvirt-shim:";
    private const uint GroupFlag = 0x8000_0000;

    public static uint Group(Guid domain)
    {
        Span<byte> bytes = stackalloc byte[16];
        domain.TryWriteBytes(bytes, bigEndian: true, out _);
        return GroupFlag | (BinaryPrimitives.ReadUInt32BigEndian(bytes) & ~GroupFlag);
    }

    public static string Alias(Guid domain) => AliasPrefix + domain.ToString("D");

    /// <summary>The domain a link was created for, when it carries the hook's marks.</summary>
    public static Guid? Owner(Link link)
    {
        if (link.Alias is { } alias && alias.StartsWith(AliasPrefix, StringComparison.Ordinal)
            && Guid.TryParse(alias.AsSpan(AliasPrefix.Length), out Guid domain) && link.Group == Group(domain))
            return domain;
        return null;
    }

    /// <summary>A macvtap in the hook's group range without an alias: created, then interrupted before the alias was set.</summary>
    public static bool IsUnlabelled(Link link) =>
        link.Alias is null && (link.Group & GroupFlag) != 0 && link.Kind == "macvtap";

    public static bool IsOwnedBy(Link link, Guid domain) =>
        Owner(link) == domain || (IsUnlabelled(link) && link.Group == Group(domain));
}
