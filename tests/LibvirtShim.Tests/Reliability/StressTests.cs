using System.Diagnostics;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Reliability;

/// <summary>
/// 32 hook processes at once, round after round, running a random mix of prepare, release, migrate, reconnect and
/// seed for 40 guests whose names overlap their neighbours' (so prepares and arrivals really compete for names) on
/// one state in one namespace. After every round: bitmap = records = kernel, and each guest is exactly what the
/// exit status of its call says it is (prepared: all its links and Created records; arrived: all its names
/// reserved; released: nothing; a prepare refused over a name someone holds: what it had before).
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class StressTests(ITestOutputHelper output)
{
    private const int Guests = 40;
    private const int ProcessesPerRound = 32;
    private const int SeedsPerRound = 3;

    private enum Phase { Idle, Arrived, Prepared }

    private sealed class Tracked(Guest guest, int nics)
    {
        public Guest Guest { get; set; } = guest;
        public int Nics { get; } = nics;
        public Phase Phase { get; set; }
        public List<(string, Holding)> Records { get; set; } = [];
    }

    [Fact]
    public async Task ThirtyTwoProcessesOfRandomOperationsKeepKernelAndStateAgreeing()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        var random = new Random(Reliability.Seed(output, "stress"));
        string[] modes = ["bridge", "vepa", "private", "source"];
        var guests = Enumerable.Range(1, Guests).Select(d =>
        {
            int nics = random.Next(2, 7);
            var list = Enumerable.Range(0, nics)
                .Select(i => modes[random.Next(modes.Length)])
                .Select((mode, i) => new TestNic(TestDomains.Mac(d, i), $"mvtap{d * 4 + i}", random.Next(2) == 0 ? "uplink0" : "uplink1",
                    mode, LinkAttributes: mode == "source" ? $"macaddrs='{TestDomains.Mac(d, 200 + i)}'" : ""))
                .ToList();
            string direct = d % 5 == 0
                ? $"<interface type='direct'><mac address='{TestDomains.Mac(d, 99)}'/><source dev='uplink0' mode='vepa'/>" +
                    $"<target dev='macvtap{d}'/></interface>\n"
                : "";
            var guest = new Guest($"g{d}", TestDomains.Uuid(d), list) { Xml = TestDomains.Owned($"g{d}", TestDomains.Uuid(d), list, direct) };
            return new Tracked(guest, nics);
        }).ToList();

        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        int rounds = Reliability.Iterations(10);
        var clock = Stopwatch.StartNew();
        for (int round = 0; round < rounds; round++)
        {
            var calls = PlanRound(random, guests);
            foreach (var (guest, operation) in calls)
            {
                if (guest is { Phase: Phase.Prepared } && operation == "release") h.RemoveStatusFile(guest.Guest.Name);
            }
            var processes = calls.Select(c => (Call: c, Process: c.Guest is null
                ? h.StartProcess("seed")
                : h.StartProcess("hook", c.Guest.Guest.Name, c.Operation, c.Operation == "release" ? "end" : "begin", "-"))).ToList();
            HookResult[] results = await Task.WhenAll(processes.Select(p =>
                Task.Run(() => HookHarness.Finish(p.Process, p.Call.Guest?.Guest.Xml ?? ""), TestContext.Current.CancellationToken)));
            foreach (var (_, process) in processes) process.Dispose();

            Look look = Look.Take(h);
            string when = $"round {round}";
            Invariants.HoldIn(look, h, when, guests.Select(g => g.Guest.Uuid));
            for (int i = 0; i < calls.Count; i++)
            {
                var (guest, operation) = calls[i];
                HookResult result = results[i];
                string what = $"{when}: {operation} {guest?.Guest.Name}";
                HookProcesses.AssertOneLineWithoutStackTrace(result.Stderr, what);
                string outcome = Judge(h, look, guest, operation, result, what);
                counts[outcome] = counts.GetValueOrDefault(outcome) + 1;
            }
            foreach (Tracked guest in guests)
            {
                if (guest.Phase == Phase.Prepared) h.WriteStatusFile(guest.Guest.Name, guest.Guest.Xml);
                guest.Records = RecordsOf(look, guest);
            }
        }
        output.WriteLine($"{rounds} rounds of {ProcessesPerRound} processes ({rounds * ProcessesPerRound} calls) " +
            $"in {clock.Elapsed.TotalSeconds:0.0} s:\n    "
                         + string.Join("\n    ", counts.Select(kv => $"{kv.Value,4} x {kv.Key}")));
        Assert.True(counts.GetValueOrDefault("prepare: created") > 0 && counts.GetValueOrDefault("release: released") > 0
                    && counts.GetValueOrDefault("migrate: reserved") > 0, "the mix should have prepared, released and migrated guests");

        foreach (Tracked guest in guests)
        {
            h.RemoveStatusFile(guest.Guest.Name);
            Assert.Equal(0, h.Run(guest.Guest.Name, "release", "end", guest.Guest.Xml).ExitCode);
        }
        Look end = Invariants.HoldIn(Look.Take(h), h, "all released", guests.Select(g => g.Guest.Uuid));
        Assert.DoesNotContain(end.State!.Records, r => r.Domain != Guid.Empty);
        Assert.DoesNotContain(end.Links, Invariants.IsMarked);
    }

    /// <summary>Up to 32 calls: a few seeds, and one call each for distinct guests, as libvirt could make them in their phase.</summary>
    private static List<(Tracked? Guest, string Operation)> PlanRound(Random random, List<Tracked> guests)
    {
        var calls = new List<(Tracked?, string)>();
        for (int i = 0; i < SeedsPerRound; i++) calls.Add((null, "seed"));
        foreach (Tracked guest in guests.OrderBy(_ => random.Next()).Take(ProcessesPerRound - SeedsPerRound))
        {
            int dice = random.Next(100);
            string operation = guest.Phase switch
            {
                Phase.Idle => dice < 50 ? "prepare" : dice < 75 ? "migrate" : dice < 90 ? "release" : "reconnect",
                Phase.Arrived => dice < 60 ? "prepare" : "release",
                _ => dice < 60 ? "release" : "reconnect",
            };
            calls.Add((guest, operation));
        }
        return calls.OrderBy(_ => random.Next()).ToList();
    }

    /// <summary>Checks one call's outcome against the kernel and state after the round, moves the guest on, names the outcome.</summary>
    private static string Judge(HookHarness h, Look look, Tracked? guest, string operation, HookResult result, string what)
    {
        if (guest is null)
        {
            Assert.True(result.ExitCode == 0 && result.Stdout.StartsWith("seeded ", StringComparison.Ordinal),
                $"{what}: exit {result.ExitCode} {result.Stderr}");
            return "seed: seeded";
        }
        var records = RecordsOf(look, guest);
        int links = Reliability.LinksOf(look.Links, guest.Guest).Count;
        string detail = $"{what}: exit {result.ExitCode}, stderr '{result.Stderr.Trim()}', records [{string.Join(", ", records)}], {links} links";
        switch (operation)
        {
            case "prepare" when result.ExitCode == 0:
                Assert.True(records.Count(r => r.Item2 == Holding.Created) == guest.Nics && links == guest.Nics, detail);
                guest.Phase = Phase.Prepared;
                return "prepare: created";
            case "prepare":
                Assert.True(result.ExitCode == 1 && result.Stderr.Contains("name is held by", StringComparison.Ordinal), detail);
                // libvirt's own names (Libvirt records) come and go with reconnects and seeds; the hook's must stay as they were.
                Assert.True(records.Where(r => r.Item2 != Holding.Libvirt)
                    .SequenceEqual(guest.Records.Where(r => r.Item2 != Holding.Libvirt)) && links == 0,
                    $"{detail}; a refused prepare must leave what was there ([{string.Join(", ", guest.Records)}])");
                return result.Stderr.Contains("reserved for its arrival", StringComparison.Ordinal)
                    ? "prepare: refused, name reserved by an arrival" : "prepare: refused, name held";
            case "migrate":
                Assert.True(result.ExitCode == 0 && result.Stderr == "", detail);
                if (result.Stdout.Length > 0) guest.Guest = guest.Guest.WithXml(result.Stdout);
                var owned = LibvirtShim.Domain.DomainReader.Read(System.Xml.Linq.XDocument.Parse(guest.Guest.Xml))
                    .OwnedNics.Select(n => n.Name).Order(StringComparer.Ordinal);
                Assert.True(records.Where(r => r.Item2 == Holding.Reserved).Select(r => r.Item1).Order(StringComparer.Ordinal)
                    .SequenceEqual(owned), $"{detail}; the arriving XML names [{string.Join(", ", owned)}]");
                guest.Phase = Phase.Arrived;
                return result.Stdout.Length > 0 ? "migrate: reserved, renamed" : "migrate: reserved";
            case "release":
                Assert.True(result.ExitCode == 0 && result.Stderr == "" && records.Count == 0 && links == 0, detail);
                guest.Phase = Phase.Idle;
                return "release: released";
            default:
                Assert.True(result.ExitCode == 0 && result.Stderr == "", detail);
                Assert.True(records.Where(r => r.Item2 != Holding.Libvirt)
                    .SequenceEqual(guest.Records.Where(r => r.Item2 != Holding.Libvirt)), $"{detail}; reconnect changed the records");
                Assert.Equal(guest.Phase == Phase.Prepared ? guest.Nics : 0, links);
                return $"reconnect: {guest.Phase}";
        }
    }

    private static List<(string, Holding)> RecordsOf(Look look, Tracked guest) =>
        look.State!.OfDomain(guest.Guest.Uuid).Select(r => (r.Name, r.Holding)).OrderBy(r => r.Name, StringComparer.Ordinal).ToList();
}
