using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Running;
using LibvirtShim.Benchmarks;
using LibvirtShim.Benchmarks.Support;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;

// LibvirtShim.Benchmarks [BenchmarkDotNet options]      the benchmarks (bench/allocator.sh, bench/codec.sh run them)
// Hidden helper modes for the bench/*.sh scripts:
//   held-names PERCENT                  the mvtapN names held at PERCENT occupancy of 8192, one a line
//   make-state DIR RECORDS              writes a state of RECORDS records of other domains to DIR/state through the
//                                       product's StateStore (managed names from mvtap500 up: mvtap0-499 stay free)
//   state-count DIR                     prints how many records DIR/state holds (the scripts check nothing drifted)
//   kernel-calls PERCENT NAMES OPS      runs each naming algorithm OPS times between markers write(-1, "bench-mark ...")
//                                       for an strace of it to count kernel calls (bench/allocator.sh does)
//   link-marks INSTANCE UUID...         per UUID a line "GROUP ALIAS": the marks the hook gives the domain's links
//   tap-nodes LOWER COUNT ROUNDS        makes COUNT macvtaps on LOWER in the caller's network namespace (run it with a /dev
//                                       of its own: scripts/netns-exec.sh) and prints the median ms, for all COUNT, of
//                                       TapNodes.Ensure with no node (made), with the node right (devtmpfs' case), and
//                                       of the check before a deletion (NodeToTakeBack), one line each; deletes them
//   group-dump GROUP TIMES              the median ms of TIMES dumps of GROUP as a release's group check makes them
//                                       (LinkTable.DumpGroup, in the caller's network namespace), after one unmeasured
return args.FirstOrDefault() switch
{
    "held-names" => HeldNames(int.Parse(args[1], CultureInfo.InvariantCulture)),
    "make-state" => MakeState(args[1], int.Parse(args[2], CultureInfo.InvariantCulture)),
    "state-count" => StateCount(args[1]),
    "link-marks" => LinkMarks(args[1], args[2..]),
    "tap-nodes" => TapNodeCosts(args[1], int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture)),
    "group-dump" => GroupDump(uint.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture)),
    "kernel-calls" => KernelCalls(int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture)),
    _ => RunBenchmarks(args),
};

static int RunBenchmarks(string[] args)
{
    string artifacts = Environment.GetEnvironmentVariable("BENCH_ARTIFACTS") is { Length: > 0 } chosen
        ? chosen : Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts");
    if (!args.Contains("--inProcess") && !args.Contains("-i")) args = [.. args, "--inProcess"];
    var summaries = BenchmarkSwitcher.FromAssembly(typeof(NamingBenchmarks).Assembly).Run(args, BenchConfig.Create(artifacts));
    return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
}

static int HeldNames(int percent)
{
    var scheme = new NameScheme(Occupancy.Prefix, Occupancy.Capacity);
    foreach (int index in Occupancy.Held(percent)) Console.Out.WriteLine(scheme.NameOf(index));
    return 0;
}

static int MakeState(string directory, int records)
{
    var scheme = new NameScheme("mvtap", 8192);
    NameState state = StateFactory.Busy(scheme, records, firstManagedIndex: 500);
    var store = new StateStore(directory, TimeSpan.FromSeconds(30));
    using (StateLease lease = store.LockToChange()) lease.Save(state);
    using (StateLease lease = store.LockToChange())
    {
        if (lease.Load(scheme).State?.Count != records) throw new InvalidOperationException("the state written does not read back");
    }
    Console.Error.WriteLine($"make-state: {records} records in {store.StatePath} ({new FileInfo(store.StatePath).Length} bytes)");
    return 0;
}

static int LinkMarks(string instance, string[] domains)
{
    var marker = new LinkMarker(instance);
    foreach (Guid domain in domains.Select(Guid.Parse)) Console.Out.WriteLine($"{marker.Group(domain)} {marker.Alias(domain)}");
    return 0;
}

static int GroupDump(uint group, int times)
{
    using LinkTable table = LinkTable.Open();
    table.DumpGroup(group);
    var milliseconds = new List<double>();
    for (int i = 0; i < times; i++)
    {
        long start = Stopwatch.GetTimestamp();
        table.DumpGroup(group);
        milliseconds.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }
    milliseconds.Sort();
    Console.Out.WriteLine(milliseconds[milliseconds.Count / 2].ToString("F2", CultureInfo.InvariantCulture));
    return 0;
}

static int TapNodeCosts(string lower, int count, int rounds)
{
    using LinkTable table = LinkTable.Open();
    int lowerIndex = table.Find([lower])[0]?.Index ?? throw new InvalidOperationException($"no link {lower}");
    var requests = Enumerable.Range(0, count).Select(i => new MacvtapRequest($"bnode{i}", lowerIndex,
        new LibvirtShim.Net.MacAddress(0x02_00_00_bb_00_00UL | (uint)i), LibvirtShim.Net.MacvtapMode.Bridge, 4243, "bench")).ToList();
    var links = table.CreateMacvtaps(requests).Select(o => o.Created ?? throw new InvalidOperationException(o.Error!.Value.Describe())).ToList();
    try
    {
        var taps = LibvirtShim.Devices.TapNodes.System;
        var made = new List<double>();
        var present = new List<double>();
        var check = new List<double>();
        for (int round = 0; round <= rounds; round++)
        {
            foreach (Link link in links) File.Delete(taps.NodeOf(link.Index));
            long t0 = Stopwatch.GetTimestamp();
            foreach (Link link in links) taps.Ensure(link.Name, link.Index);
            long t1 = Stopwatch.GetTimestamp();
            foreach (Link link in links) taps.Ensure(link.Name, link.Index);
            long t2 = Stopwatch.GetTimestamp();
            foreach (Link link in links) taps.NodeToTakeBack(link.Name, link.Index);
            long t3 = Stopwatch.GetTimestamp();
            if (round == 0) continue;
            made.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
            present.Add(Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds);
            check.Add(Stopwatch.GetElapsedTime(t2, t3).TotalMilliseconds);
        }
        foreach ((string what, List<double> ms) in new[] { ("made", made), ("present", present), ("check", check) })
        {
            ms.Sort();
            Console.Out.WriteLine($"{what} {ms[ms.Count / 2].ToString("F3", CultureInfo.InvariantCulture)}");
        }
    }
    finally
    {
        table.DeleteGroup(4243);
    }
    return 0;
}

static int StateCount(string directory)
{
    var store = new StateStore(directory, TimeSpan.FromSeconds(30));
    using StateLease lease = store.LockToChange();
    StateLoad load = lease.Load(new NameScheme("mvtap", 8192));
    if (load.State is null) throw new InvalidOperationException($"{store.StatePath}: {load.Problem}");
    Console.Out.WriteLine(load.State.Count);
    return 0;
}

static int KernelCalls(int percent, int names, int operations)
{
    var bench = new NamingBenchmarks { OccupancyPercent = percent, Names = names };
    bench.Setup();
    try
    {
        (string Name, Func<int> Run)[] algorithms =
        [
            ("seed-ioctl", bench.SeedIoctl),
            ("seed-if_nametoindex", bench.SeedIfNameToIndex),
            ("shim-freenames", bench.ShimFreeNames),
        ];
        foreach (var (name, run) in algorithms)
        {
            run(); // first use opens what it opens (the product's socket) outside the counted span
            long probesBefore = bench.Seed.Probes;
            Marker.Write($"bench-mark begin {name} occupancy={percent} names={names} ops={operations}");
            for (int i = 0; i < operations; i++) run();
            Marker.Write($"bench-mark end {name}");
            long probes = bench.Seed.Probes - probesBefore;
            Console.Out.WriteLine($"{name} occupancy={percent} names={names} ops={operations} in-process-probes={probes}");
        }
    }
    finally
    {
        bench.Cleanup();
    }
    return 0;
}

internal static partial class Marker
{
    /// <summary>A write to fd -1: fails at once with EBADF, and strace shows the text.</summary>
    public static unsafe void Write(string text)
    {
        byte[] bytes = System.Text.Encoding.ASCII.GetBytes(text);
        fixed (byte* p = bytes) write(-1, p, (nuint)bytes.Length);
    }

    [LibraryImport("libc", EntryPoint = "write")]
    private static unsafe partial nint write(int fd, byte* buffer, nuint count);
}
