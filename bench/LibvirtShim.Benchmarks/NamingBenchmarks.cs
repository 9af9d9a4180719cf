using BenchmarkDotNet.Attributes;
using LibvirtShim.Benchmarks.Support;
using LibvirtShim.Configuration;
using LibvirtShim.Lifecycle;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Benchmarks;

/// <summary>
/// Naming NICs at 0 %, 50 % and 99 % occupancy of the capacity (8192 mvtapN names), each level a network namespace
/// (made by bench/allocator.sh) that holds the held names as real links, and a state holding the same names.
/// One operation names <see cref="Names"/> NICs and frees them again; the "per name" column divides by Names.
/// <list type="bullet">
/// <item>Seed (baseline): for each NIC, probe mvtap0, mvtap1, ... until one does not exist (SIOCGIFFLAGS on one
/// reused socket, or if_nametoindex).</item>
/// <item>TakeFreeNames.Run: the product's allocation (next clear bits after the cursor, every candidate checked against
/// the kernel in one batched RTM_GETLINK exchange), then the names removed from the state again.</item>
/// <item>NameState only: the same without the kernel check (the bitmap and the records).</item>
/// </list>
/// </summary>
[Config(typeof(PerNameConfig))]
public class NamingBenchmarks
{
    private static readonly Guid BenchDomain = new("be0c0000-0000-4000-8000-0000000000a1");

    [Params(0, 50, 99)]
    public int OccupancyPercent { get; set; }

    [Params(8, 82)]
    public int Names { get; set; }

    private int _thread;
    private SeedProbe _seed = null!;
    private bool[] _handedOut = null!;
    private int[] _taken = null!;
    private string _work = "";
    private ShimContext _context = null!;
    private ShimSession _session = null!;
    private NameState _inMemory = null!;
    private int[] _items = null!;
    private string[] _buffer = null!;
    private readonly Func<int, string, NameRecord> _holdAs =
        (_, name) => new NameRecord(name, Holding.Reserved, BenchDomain, "bench-alloc", ExpiresAt: long.MaxValue / 2);

    internal SeedProbe Seed => _seed;

    [GlobalSetup]
    public void Setup()
    {
        NetNs.EnterOnThisThread(Occupancy.Namespace(OccupancyPercent));
        _thread = Environment.CurrentManagedThreadId;
        var scheme = new NameScheme(Occupancy.Prefix, Occupancy.Capacity);
        int[] held = Occupancy.Held(OccupancyPercent);
        RequireNamespaceHolds(scheme, held);

        _seed = new SeedProbe(Occupancy.Prefix);
        _handedOut = new bool[Occupancy.Capacity];
        _taken = new int[Names];
        _items = Enumerable.Range(0, Names).ToArray();
        _buffer = new string[Names];

        _work = WorkDir.Create("shim-bench-naming-");
        var settings = new ShimSettings
        {
            StateDir = Path.Combine(_work, "state"),
            LibvirtRunDir = Path.Combine(_work, "run"),
            LibvirtConfigDir = Path.Combine(_work, "etc"),
            LogFile = Path.Combine(_work, "shim.log"),
            NamePrefix = Occupancy.Prefix,
            Capacity = Occupancy.Capacity,
        };
        var store = new StateStore(settings.StateDir, TimeSpan.FromSeconds(10));
        using (StateLease lease = store.LockToChange()) lease.Save(StateFactory.HeldByOthers(scheme, held));
        // Naming creates no link, and its tap nodes would be another namespace's: none go into the host's /dev.
        _context = new ShimContext(settings, LinkTable.Open, LibvirtShim.Netfilter.GuardTables.Open,
            new LibvirtShim.Devices.TapNodes(Path.Combine(_work, "dev"), "/sys"), Serilog.Core.Logger.None, TimeProvider.System);
        _session = ShimSession.Open(_context);
        if (_session.State.HeldManagedNames != held.Length)
            throw new InvalidOperationException($"the state holds {_session.State.HeldManagedNames} names, expected {held.Length}");
        _inMemory = StateFactory.HeldByOthers(scheme, held);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        _context?.Dispose();
        _seed?.Dispose();
        if (_work.Length > 0) Directory.Delete(_work, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "seed: probe from 0, SIOCGIFFLAGS (reused socket)")]
    public int SeedIoctl()
    {
        RequireSetupThread();
        _seed.Name(Names, Occupancy.Capacity, useIoctl: true, _handedOut, _taken);
        return _taken[^1];
    }

    [Benchmark(Description = "seed: probe from 0, if_nametoindex")]
    public int SeedIfNameToIndex()
    {
        RequireSetupThread();
        _seed.Name(Names, Occupancy.Capacity, useIoctl: false, _handedOut, _taken);
        return _taken[^1];
    }

    [Benchmark(Description = "shim: FreeNames.Take (bitmap + 1 batched kernel check)")]
    public int ShimFreeNames()
    {
        RequireSetupThread();
        List<string> names = TakeFreeNames.Run(_session, _context.Links, _context.Settings, _context.Now, _items, _holdAs, "bench");
        foreach (string name in names) _session.State.Remove(name);
        return names.Count;
    }

    [Benchmark(Description = "shim: NameState only (no kernel check)")]
    public int ShimInMemory()
    {
        for (int i = 0; i < _buffer.Length; i++)
        {
            string name = _inMemory.TakeNextFreeName() ?? throw new InvalidOperationException("no free name");
            _inMemory.Put(_holdAs(i, name));
            _buffer[i] = name;
        }
        foreach (string name in _buffer) _inMemory.Remove(name);
        return _buffer.Length;
    }

    /// <summary>Every socket must be opened on the thread that joined the namespace.</summary>
    private void RequireSetupThread()
    {
        if (Environment.CurrentManagedThreadId != _thread)
            throw new InvalidOperationException("benchmark ran on another thread than its set-up: the probes would run outside the namespace");
    }

    /// <summary>The namespace must hold exactly the held names as links, or the seed would be measured on something else.</summary>
    private static void RequireNamespaceHolds(NameScheme scheme, int[] held)
    {
        using LinkTable links = LinkTable.Open();
        var managed = links.Dump().Select(l => l.Name).Where(scheme.IsManaged).ToHashSet(StringComparer.Ordinal);
        var expected = held.Select(scheme.NameOf).ToHashSet(StringComparer.Ordinal);
        if (!managed.SetEquals(expected))
            throw new InvalidOperationException($"the namespace holds {managed.Count} {scheme.Prefix}N links, expected {expected.Count} (the layout of Occupancy.Held); rerun bench/allocator.sh");
    }
}
