namespace LibvirtShim.Net;

/// <summary>
/// A set of MAC addresses, compared as a set (the kernel keeps a source-mode macvtap's addresses in a hash and reports
/// them in its own order); written in ascending order, as <c>52:54:00:aa:00:01,52:54:00:aa:00:02</c>.
/// </summary>
internal sealed class MacAddressSet : IEquatable<MacAddressSet>
{
    private readonly MacAddress[] _sorted;

    public MacAddressSet(IEnumerable<MacAddress> macs) => _sorted = macs.Distinct().OrderBy(m => m.Value).ToArray();

    public static MacAddressSet Empty { get; } = new([]);

    public int Count => _sorted.Length;

    public IReadOnlyList<MacAddress> Addresses => _sorted;

    /// <summary>A list as a &lt;shim:link macaddrs&gt; gives it: MACs separated by commas or white space; false for anything else.</summary>
    public static bool TryParse(string text, out MacAddressSet set)
    {
        var macs = new List<MacAddress>();
        foreach (string item in text.Split([',', ' ', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (!MacAddress.TryParse(item.ToLowerInvariant(), out MacAddress mac))
            {
                set = Empty;
                return false;
            }
            macs.Add(mac);
        }
        set = new MacAddressSet(macs);
        return true;
    }

    public bool Equals(MacAddressSet? other) => other is not null && _sorted.AsSpan().SequenceEqual(other._sorted);

    public override bool Equals(object? obj) => Equals(obj as MacAddressSet);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (MacAddress mac in _sorted) hash.Add(mac.Value);
        return hash.ToHashCode();
    }

    public override string ToString() => string.Join(',', _sorted);
}
