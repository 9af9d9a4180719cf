using System.IO.Hashing;
using System.Text;
using LibvirtShim.Netlink;

namespace LibvirtShim.Session;

/// <summary>
/// How a link the hook created is recognised in the kernel, even with the state lost. Its netdev group is set
/// atomically at creation: 0x80000000 | 31 bits hashed from the domain's UUID and this hook's instance, one group per
/// domain, so a domain's links go in one deletion. Its alias, which only root can set, is "libvirt-shim:UUID@INSTANCE".
/// The instance keeps apart several libvirt daemons sharing one kernel. Unless set, it is the host's machine id
/// (/etc/machine-id), which renaming the host does not change; links marked with the host name, the identity of
/// earlier versions, are recognised too.
/// </summary>
internal sealed class LinkMarker
{
    private const string AliasPrefix = "libvirt-shim:";
    private const uint GroupFlag = 0x8000_0000;
    private const string MachineIdPath = "/etc/machine-id";

    private readonly string[] _recognised;

    /// <param name="instance">The identity this hook marks its links with.</param>
    /// <param name="earlier">Identities this host marked links with before, recognised as its own.</param>
    public LinkMarker(string instance, IEnumerable<string>? earlier = null)
    {
        Instance = instance;
        _recognised = [instance, .. (earlier ?? []).Where(e => e.Length > 0 && e != instance).Distinct(StringComparer.Ordinal)];
    }

    public string Instance { get; }

    public static LinkMarker For(Configuration.ShimSettings settings) =>
        settings.Instance.Length > 0
            ? new(settings.Instance)
            : new(DefaultInstance(ReadMachineId(), Environment.MachineName), [Environment.MachineName]);

    /// <summary>The machine id when the host has a valid one (32 lowercase hex digits), else the host name.</summary>
    internal static string DefaultInstance(string? machineId, string hostName) =>
        machineId?.Trim() is { Length: 32 } id && id.All(char.IsAsciiHexDigitLower) ? id : hostName;

    private static string? ReadMachineId()
    {
        try
        {
            return File.ReadAllText(MachineIdPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public uint Group(Guid domain) => Group(domain, Instance);

    private static uint Group(Guid domain, string instance)
    {
        Span<byte> bytes = stackalloc byte[16 + Encoding.UTF8.GetByteCount(instance)];
        domain.TryWriteBytes(bytes, bigEndian: true, out _);
        Encoding.UTF8.GetBytes(instance, bytes[16..]);
        return GroupFlag | ((uint)XxHash32.HashToUInt32(bytes) & ~GroupFlag);
    }

    private bool IsGroupOf(Guid domain, uint group)
    {
        foreach (string instance in _recognised)
        {
            if (Group(domain, instance) == group) return true;
        }
        return false;
    }

    public string Alias(Guid domain) => $"{AliasPrefix}{domain:D}@{Instance}";

    /// <summary>
    /// The netdev table holding the guards of a domain's links: named for the domain and its group (which the instance
    /// sets, so two daemons sharing a kernel, or a guest migrating between them, never share a table), and carrying the
    /// link's alias as its comment, the ownership mark.
    /// </summary>
    public string GuardTable(Guid domain) => GuardTable(domain, Instance);

    private static string GuardTable(Guid domain, string instance) => $"libvirt-shim-{domain:D}-{Group(domain, instance):x8}";

    /// <summary>The domain a netdev table guards for this instance (under its identity now or an earlier one): its comment is that
    /// domain's alias, and its name the one that identity gives.</summary>
    public Guid? GuardTableOwner(string name, string? comment)
    {
        if (!TrySplitAlias(comment, out ReadOnlySpan<char> uuid, out ReadOnlySpan<char> madeBy) || !Guid.TryParse(uuid, out Guid domain))
            return null;
        foreach (string instance in _recognised)
        {
            if (madeBy.SequenceEqual(instance)) return name == GuardTable(domain, instance) ? domain : null;
        }
        return null;
    }

    /// <summary>The domain a link was created for by this instance (under its identity now or an earlier one), when it carries both marks.</summary>
    public Guid? Owner(Link link)
    {
        if (!TrySplitAlias(link.Alias, out ReadOnlySpan<char> uuid, out ReadOnlySpan<char> madeBy) || !Guid.TryParse(uuid, out Guid domain))
            return null;
        foreach (string instance in _recognised)
        {
            if (madeBy.SequenceEqual(instance)) return link.Group == Group(domain, instance) ? domain : null;
        }
        return null;
    }

    /// <summary>The parts of an alias as <see cref="Alias"/> writes it, "libvirt-shim:DOMAIN@INSTANCE"; false for any other.</summary>
    public static bool TrySplitAlias(string? alias, out ReadOnlySpan<char> domain, out ReadOnlySpan<char> instance)
    {
        domain = instance = default;
        if (alias is null || !alias.StartsWith(AliasPrefix, StringComparison.Ordinal)) return false;
        ReadOnlySpan<char> rest = alias.AsSpan(AliasPrefix.Length);
        int at = rest.IndexOf('@');
        if (at < 0) return false;
        domain = rest[..at];
        instance = rest[(at + 1)..];
        return true;
    }

    /// <summary>A macvtap in the hook's group range without an alias: created, then interrupted before the alias was set.</summary>
    public static bool IsUnlabelled(Link link) =>
        link.Alias is null && (link.Group & GroupFlag) != 0 && link.Kind == "macvtap";

    /// <summary>The owner from the marks, or for an unlabelled link the one of <paramref name="candidates"/> whose group it has.</summary>
    public Guid? OwnerAmong(Link link, IEnumerable<Guid> candidates) =>
        Owner(link) ?? (IsUnlabelled(link) ? candidates.Where(d => IsGroupOf(d, link.Group)).Cast<Guid?>().FirstOrDefault() : null);

    public bool IsOwnedBy(Link link, Guid domain) =>
        Owner(link) == domain || (IsUnlabelled(link) && IsGroupOf(domain, link.Group));
}
