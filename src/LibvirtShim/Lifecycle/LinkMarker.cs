using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using LibvirtShim.Netlink;

namespace LibvirtShim.Lifecycle;

/// <summary>
/// How a link the hook created is recognised in the kernel, even with the state lost. Its netdev group is set
/// atomically at creation: 0x80000000 | 31 bits hashed from the domain's UUID and this hook's instance, one group per
/// domain, so a domain's links go in one deletion. Its alias, which only root can set, is "libvirt-shim:UUID@INSTANCE".
/// The instance (the host name unless set) keeps apart several libvirt daemons sharing one kernel.
/// </summary>
internal sealed class LinkMarker(string instance)
{
    private const string AliasPrefix = "libvirt-shim:";
    private const uint GroupFlag = 0x8000_0000;

    public string Instance { get; } = instance;

    public static LinkMarker For(Configuration.ShimSettings settings) =>
        new(settings.Instance.Length > 0 ? settings.Instance : Environment.MachineName);

    public uint Group(Guid domain)
    {
        Span<byte> bytes = stackalloc byte[16 + Encoding.UTF8.GetByteCount(Instance)];
        domain.TryWriteBytes(bytes, bigEndian: true, out _);
        Encoding.UTF8.GetBytes(Instance, bytes[16..]);
        return GroupFlag | ((uint)XxHash32.HashToUInt32(bytes) & ~GroupFlag);
    }

    public string Alias(Guid domain) => $"{AliasPrefix}{domain:D}@{Instance}";

    /// <summary>The domain a link was created for by this instance, when it carries both marks.</summary>
    public Guid? Owner(Link link)
    {
        if (link.Alias is not { } alias || !alias.StartsWith(AliasPrefix, StringComparison.Ordinal)) return null;
        ReadOnlySpan<char> rest = alias.AsSpan(AliasPrefix.Length);
        int at = rest.IndexOf('@');
        if (at < 0 || !rest[(at + 1)..].SequenceEqual(Instance) || !Guid.TryParse(rest[..at], out Guid domain)) return null;
        return link.Group == Group(domain) ? domain : null;
    }

    /// <summary>A macvtap in the hook's group range without an alias: created, then interrupted before the alias was set.</summary>
    public static bool IsUnlabelled(Link link) =>
        link.Alias is null && (link.Group & GroupFlag) != 0 && link.Kind == "macvtap";

    /// <summary>The owner from the marks, or for an unlabelled link the one of <paramref name="candidates"/> whose group it has.</summary>
    public Guid? OwnerAmong(Link link, IEnumerable<Guid> candidates) =>
        Owner(link) ?? (IsUnlabelled(link) ? candidates.Where(d => Group(d) == link.Group).Cast<Guid?>().FirstOrDefault() : null);

    public bool IsOwnedBy(Link link, Guid domain) =>
        Owner(link) == domain || (IsUnlabelled(link) && link.Group == Group(domain));
}
