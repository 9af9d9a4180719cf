using System.Diagnostics;
using CsCheck;
using LibvirtShim.Lifecycle;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Reliability;

/// <summary>
/// The allocator (<see cref="TakeFreeNames.Run{T}"/> with its kernel check, expiry of reservations, release) and the state
/// store (every operation is a session of its own: lock, load from disk, change, commit or not) against a model a few
/// lines long, over generated sequences of operations. The "kernel" is a namespace where three managed names are taken
/// by links nobody recorded, so allocation must step over them and record them as foreign.
/// <para>
/// The model: records by name; the cursor; a take hands out, in cyclic order from the cursor, the names nobody holds,
/// recording each one a link sits on as foreign and going on; it fails when the names run out, and then keeps only
/// what it found (the foreign records, where the cursor got to), even when its session is never committed.
/// Expired reservations, and names held for a definition whose hold expired (no definition exists), are dropped
/// first, but only by a take that succeeds. Release drops the domain's records, keeping the names held for its
/// definition while that hold has not expired (there are no definition files here). A session not committed changes
/// nothing.
/// </para>
/// </summary>
public sealed class AllocatorModelTests(ITestOutputHelper output)
{
    private const int Capacity = 16;
    private static readonly int[] Occupied = [2, 5, 11];
    private static readonly NameScheme Scheme = new("mvtap", Capacity);

    internal abstract record Op;
    internal sealed record Take(int Domain, int Count, bool Defined, int Ttl) : Op;
    internal sealed record Hold(int Domain, int Index) : Op;
    internal sealed record Release(int Domain) : Op;
    internal sealed record Advance(int Seconds) : Op;
    internal sealed record Abandon(int Domain, int Count) : Op;

    private static readonly Gen<Op> AnyOp = Gen.Frequency(
        (6, Gen.Select(Gen.Int[0, 3], Gen.Int[1, 6], Gen.Bool, Gen.Int[1, 100], (d, n, def, ttl) => (Op)new Take(d, n, def, ttl))),
        (2, Gen.Select(Gen.Int[0, 3], Gen.Int[0, Capacity - 1], (d, i) => (Op)new Hold(d, i))),
        (3, Gen.Int[0, 3].Select(d => (Op)new Release(d))),
        (2, Gen.Int[1, 120].Select(s => (Op)new Advance(s))),
        (1, Gen.Select(Gen.Int[0, 3], Gen.Int[1, 6], (d, n) => (Op)new Abandon(d, n))));

    [Fact]
    public void TheAllocatorAndTheStateStoreAgreeWithTheModel()
    {
        using var h = HookHarness.Create();
        foreach (int index in Occupied) h.Ns.Ip("link", "add", Scheme.NameOf(index), "type", "veth", "peer", "name", $"peer{index}");
        h.Settings.Capacity = Capacity;
        var clock = new ManualClock(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        h.Clock = clock;
        string stateRoot = h.Settings.StateDir;
        int sequences = 0, operations = 0;
        var timer = Stopwatch.StartNew();

        AnyOp.Array[1, 40].Sample(ops =>
        {
            h.Settings.StateDir = Path.Combine(stateRoot, $"s{sequences++}");
            Directory.CreateDirectory(h.Settings.StateDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.WriteAllBytes(Path.Combine(h.Settings.StateDir, "state"), StateCodec.Encode(new NameState(Scheme)));
            var model = new Model(clock.GetUtcNow().ToUnixTimeSeconds());
            using ShimContext context = h.OpenContext(); // a context per state directory: it builds its state store once
            for (int step = 0; step < ops.Length; step++)
            {
                Apply(context, ops[step], model, clock);
                operations++;
                Compare(context, model, $"after step {step} ({ops[step]})");
            }
        }, iter: Reliability.Iterations(500), threads: 1, seed: Environment.GetEnvironmentVariable("SHIM_TEST_MODEL_SEED"));

        output.WriteLine($"{sequences} generated sequences (after shrinking, if any), {operations} operations, " +
            $"each a locked session on disk, in {timer.Elapsed.TotalSeconds:0.0} s");
    }

    private static void Apply(ShimContext context, Op op, Model model, ManualClock clock)
    {
        switch (op)
        {
            case Take take:
            {
                using ShimSession session = ShimSession.Open(context);
                List<string>? taken = null;
                try
                {
                    taken = TakeFreeNames.Run(session, context.Links, context.Settings, context.Now, Enumerable.Range(0, take.Count).ToList(),
                        (i, name) => Held(name, take.Domain, i, take.Defined ? Holding.Defined : Holding.Reserved, model.Now + take.Ttl), "model");
                    session.Commit();
                }
                catch (ShimFailure e) when (e.Message.Contains("no free name", StringComparison.Ordinal))
                {
                }
                List<string>? expected = model.Take(take);
                Assert.True(Same(expected, taken), $"{op}: took [{Show(taken)}], the model [{Show(expected)}]");
                break;
            }
            case Hold hold:
            {
                using ShimSession session = ShimSession.Open(context);
                string name = Scheme.NameOf(hold.Index);
                if (!session.State.IsHeld(name))
                {
                    session.State.Put(Held(name, hold.Domain, 0, Holding.Reserved, model.Now + 60));
                    session.Commit();
                }
                model.Hold(hold, name);
                break;
            }
            case Release release:
            {
                using ShimSession session = ShimSession.Open(context);
                ReleaseLinks.Run(session, context.Links, context.OpenGuards, context.Taps, context.Marker, context.Settings.LibvirtConfigDir,
                    context.Now, Domain(release.Domain), "model", declaredNames: [], declaredGuarded: false);
                model.Release(release.Domain);
                break;
            }
            case Advance advance:
                clock.Advance(TimeSpan.FromSeconds(advance.Seconds));
                model.Now += advance.Seconds;
                break;
            case Abandon abandon:
            {
                using ShimSession session = ShimSession.Open(context);
                try
                {
                    TakeFreeNames.Run(session, context.Links, context.Settings, context.Now, Enumerable.Range(0, abandon.Count).ToList(), (i, name) =>
                        Held(name, abandon.Domain, i, Holding.Reserved, model.Now + 5), "abandoned");
                }
                catch (ShimFailure)
                {
                }
                // Disposed without a commit: as if the process had died here (what a failed take found is on disk already).
                model.Abandon(abandon);
                break;
            }
        }
    }

    /// <summary>The state as the next session loads it, against the model: records, cursor and bitmap.</summary>
    private static void Compare(ShimContext context, Model model, string when)
    {
        using ShimSession session = ShimSession.Open(context);
        NameState state = session.State;
        var actual = state.Records.Select(Key).Order().ToList();
        var expected = model.Records.Values.Order().ToList();
        Assert.True(actual.SequenceEqual(expected),
            $"{when}: records\n  state [{string.Join(", ", actual)}]\n  model [{string.Join(", ", expected)}]");
        Assert.True(state.Cursor == model.Cursor, $"{when}: cursor {state.Cursor}, model {model.Cursor}");
        List<string> problems = Invariants.Violations(state, [], context.Marker, [])
            .Where(p => p.StartsWith("bitmap", StringComparison.Ordinal)).ToList();
        Assert.True(problems.Count == 0, $"{when}: {string.Join("; ", problems)}");
    }

    private static string Key(NameRecord r) =>
        $"{r.Name}:{r.Holding}:{(r.Domain == Guid.Empty ? "-" : r.DomainName)}:{(r.Holding == Holding.Foreign ? 0 : r.ExpiresAt)}";

    private static NameRecord Held(string name, int domain, int nic, Holding holding, long expires) =>
        new(name, holding, Domain(domain), $"d{domain}", new MacAddress(0x525400000000UL + (ulong)(domain * 256 + nic)), "uplink0",
            MacvtapMode.Bridge,
            ExpiresAt: expires);

    private static Guid Domain(int domain) => TestDomains.Uuid(domain + 1);

    private static bool Same(List<string>? a, List<string>? b) => a is null ? b is null : b is not null && a.SequenceEqual(b);

    private static string Show(List<string>? names) => names is null ? "refused" : string.Join(" ", names);

    private sealed class Model(long now)
    {
        public long Now { get; set; } = now;
        public uint Cursor { get; private set; }
        public Dictionary<string, string> Records { get; private set; } = new(StringComparer.Ordinal);

        public List<string>? Take(Take take) => Take(take.Domain, take.Count, take.Defined ? "Defined" : "Reserved", take.Ttl, commit: true);

        public void Abandon(Abandon abandon) => Take(abandon.Domain, abandon.Count, "Reserved", 5, commit: false);

        private List<string>? Take(int domain, int count, string holding, int ttl, bool commit)
        {
            var records = Records.Where(kv => !(IsHold(kv.Value) && ExpiresAt(kv.Value) <= Now))
                .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            uint cursor = Cursor;
            var taken = new List<string>();
            var found = new List<string>();
            while (taken.Count < count)
            {
                int? free = Enumerable.Range(0, Capacity).Select(k => (int)((cursor + k) % Capacity)).Cast<int?>()
                    .FirstOrDefault(i => !records.ContainsKey(Scheme.NameOf(i!.Value)));
                if (free is not { } index)
                {
                    foreach (string name in found) Records.TryAdd(name, $"{name}:Foreign:-:0");
                    Cursor = cursor;
                    return null;
                }
                cursor = (uint)(index + 1) % Capacity;
                string next = Scheme.NameOf(index);
                if (Occupied.Contains(index))
                {
                    records[next] = $"{next}:Foreign:-:0";
                    found.Add(next);
                    continue;
                }
                records[next] = $"{next}:{holding}:d{domain}:{Now + ttl}";
                taken.Add(next);
            }
            if (commit) (Records, Cursor) = (records, cursor);
            return taken;
        }

        public void Hold(Hold hold, string name) => Records.TryAdd(name, $"{name}:Reserved:d{hold.Domain}:{Now + 60}");

        public void Release(int domain)
        {
            foreach (var (name, record) in Records.Where(kv => kv.Value.Contains($":d{domain}:", StringComparison.Ordinal)).ToList())
            {
                if (record.Contains(":Defined:", StringComparison.Ordinal) && ExpiresAt(record) > Now) continue;
                else Records.Remove(name);
            }
        }

        /// <summary>Reservations, and names held for a definition (none exists here, so its hold is all that keeps them).</summary>
        private static bool IsHold(string record) =>
            record.Contains(":Reserved:", StringComparison.Ordinal) || record.Contains(":Defined:", StringComparison.Ordinal);

        private static long ExpiresAt(string record) =>
            long.Parse(record[(record.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
