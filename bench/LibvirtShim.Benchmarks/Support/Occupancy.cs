namespace LibvirtShim.Benchmarks.Support;

/// <summary>
/// Which indexes are held at a given occupancy: a uniformly random subset (fixed seed, so bench/allocator.sh creates
/// exactly the links the benchmark expects). Random holes are the layout kindest to the seed's probe-from-zero loop:
/// its first free name comes after about 1/(1-occupancy) probes, where a pool filled lowest-first would make it probe
/// through the whole held prefix.
/// </summary>
internal static class Occupancy
{
    public const string Prefix = "mvtap";
    public const int Capacity = 8192;
    public static readonly int[] Levels = [0, 50, 99];

    /// <summary>The namespace bench/allocator.sh made for a level: $BENCH_NETNS_PREFIX-occ{percent}.</summary>
    public static string Namespace(int percent)
    {
        string prefix = Environment.GetEnvironmentVariable("BENCH_NETNS_PREFIX")
            ?? throw new InvalidOperationException("BENCH_NETNS_PREFIX is not set: run the naming benchmarks through bench/allocator.sh (it makes the namespaces)");
        return $"{prefix}-occ{percent}";
    }

    public static int HeldCount(int percent, int capacity = Capacity) => (int)((long)capacity * percent / 100);

    /// <summary>The held indexes, ascending.</summary>
    public static int[] Held(int percent, int capacity = Capacity)
    {
        int[] all = Enumerable.Range(0, capacity).ToArray();
        new Random(7919 * (percent + 1) + capacity).Shuffle(all);
        int[] held = all[..HeldCount(percent, capacity)];
        Array.Sort(held);
        return held;
    }
}
