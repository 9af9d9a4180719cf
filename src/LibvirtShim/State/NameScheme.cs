using System.Globalization;

namespace LibvirtShim.State;

/// <summary>Managed names are the prefix followed by a decimal index below the capacity, without leading zeros.</summary>
internal sealed record NameScheme(string Prefix, int Capacity)
{
    public string NameOf(int index) => Prefix + index.ToString(CultureInfo.InvariantCulture);

    public bool TryIndex(string name, out int index) => TryIndex(name.AsSpan(), out index);

    public bool TryIndex(ReadOnlySpan<char> name, out int index)
    {
        index = -1;
        if (!name.StartsWith(Prefix, StringComparison.Ordinal)) return false;
        ReadOnlySpan<char> digits = name[Prefix.Length..];
        if (digits.IsEmpty || digits.Length > 9 || (digits[0] == '0' && digits.Length > 1)) return false;
        int value = 0;
        foreach (char c in digits)
        {
            if (c is < '0' or > '9') return false;
            value = value * 10 + (c - '0');
        }
        if (value >= Capacity) return false;
        index = value;
        return true;
    }

    public bool IsManaged(string name) => TryIndex(name, out _);
}
