namespace LibvirtShim.Soak.Model;

/// <summary>
/// The run's only source of chance: SplitMix64 (Steele, Lea and Flood, 2014), written out here so that a seed means the
/// same sequence on every runtime and version (System.Random promises no such thing across versions).
/// </summary>
public sealed class SoakRandom(ulong seed)
{
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A whole number from 0 to <paramref name="bound"/> - 1 (bound at least 1).</summary>
    public int Below(int bound)
    {
        if (bound < 1) throw new ArgumentOutOfRangeException(nameof(bound), bound, "must be at least 1");
        return (int)(NextUInt64() % (ulong)bound);
    }

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>, both included.</summary>
    public int Between(int min, int max) => min + Below(max - min + 1);

    /// <summary>True with the chance <paramref name="percent"/> in 100.</summary>
    public bool Chance(int percent) => Below(100) < percent;

    public T Pick<T>(IReadOnlyList<T> items) => items[Below(items.Count)];
}
