using System.Diagnostics;
using System.Globalization;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Reliability;

/// <summary>
/// Tests that run many hook processes and measure when to kill them: alone, so that other tests' processes neither
/// slow them down nor shift their kill moments.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessHeavy
{
    public const string Name = "Reliability: hook processes";
}

/// <summary>A guest for the reliability tests: name, UUID, NICs and its domain XML.</summary>
internal sealed record Guest(string Name, Guid Uuid, IReadOnlyList<TestNic> Nics)
{
    public string Xml { get; init; } = TestDomains.Owned(Name, Uuid, Nics);

    /// <summary>Guest number <paramref name="number"/> with <paramref name="nics"/> owned NICs named mvtap(firstName...).</summary>
    public static Guest Make(string name, int number, int nics, int firstName, string lower = "uplink0") =>
        new(name, TestDomains.Uuid(number), TestDomains.Nics(number, nics, firstName, lower));

    /// <summary>The same with every NIC guarded: guard='ip', one IPv4 and one IPv6 address each (10.N.I.10, 2001:db8:N:I::10).</summary>
    public static Guest Guarded(string name, int number, int nics, int firstName, string lower = "uplink0") =>
        new(name, TestDomains.Uuid(number), TestDomains.Nics(number, nics, firstName, lower)
            .Select((n, i) => n with { LinkAttributes = $"guard='ip' ips='10.{number}.{i}.10 2001:db8:{number:x}:{i:x}::10'" }).ToList());

    /// <summary>The same guest with the domain XML a hook printed (a migrate that renamed NICs).</summary>
    public Guest WithXml(string xml) => this with { Xml = xml };
}

/// <summary>How one hook process ended: killed by the test, or exited on its own.</summary>
internal sealed record ProcessEnd(bool Killed, int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    public string Describe => Killed ? "killed" : $"exit {ExitCode}";
}

internal static class HookProcesses
{
    /// <summary>
    /// Starts the hook executable with <paramref name="args"/> and <paramref name="stdin"/>, and sends it SIGKILL
    /// <paramref name="killAfter"/> after its start unless it has ended by then. The delay picks the moment of the
    /// crash; nothing waits on it for synchronisation (the outcome is read from the kernel and the state afterwards).
    /// </summary>
    public static ProcessEnd KillAfter(HookHarness h, TimeSpan killAfter, string stdin, params string[] args)
    {
        var clock = Stopwatch.StartNew();
        using Process process = h.StartProcess(args);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        HookHarness.WriteStdin(process, stdin);
        while (clock.Elapsed < killAfter && !process.HasExited) Thread.SpinWait(200);
        bool killed = false;
        if (!process.HasExited)
        {
            process.Kill();
            killed = true;
        }
        process.WaitForExit();
        TimeSpan elapsed = clock.Elapsed;
        // SIGKILL shows as 137; a process that had already ended between the check and the kill keeps its own status.
        killed &= process.ExitCode == 128 + 9;
        return new ProcessEnd(killed, process.ExitCode, stdout.Result, stderr.Result, elapsed);
    }

    /// <summary>Runs the hook to its end, timing it.</summary>
    public static ProcessEnd Run(HookHarness h, string stdin, params string[] args) =>
        KillAfter(h, TimeSpan.FromMinutes(5), stdin, args);

    /// <summary>stderr as a hook may write it: nothing, or one line that names no .NET internals.</summary>
    public static void AssertOneLineWithoutStackTrace(string stderr, string what)
    {
        Assert.False(stderr.Contains("   at ", StringComparison.Ordinal) || stderr.Contains("Unhandled exception", StringComparison.Ordinal)
                     || stderr.Contains("Exception:", StringComparison.Ordinal), $"{what}: stack trace or exception dump on stderr:\n{stderr}");
        Assert.True(stderr.Length == 0 || (stderr.EndsWith('\n') && stderr.IndexOf('\n') == stderr.Length - 1),
            $"{what}: stderr is not one line:\n{stderr}");
    }
}

/// <summary>
/// Picks kill moments for one operation: uniformly over the whole run some of the time, and mostly inside the
/// window where earlier kills found the operation under way (after the last kill that found nothing done, before the
/// first run that finished), so that the moments that matter get most of the kills whatever this machine's speed.
/// </summary>
internal sealed class KillSchedule(Random random, TimeSpan fullRun)
{
    private readonly TimeSpan _span = fullRun * 1.3;
    private TimeSpan _nothingDoneUpTo = TimeSpan.Zero;
    private TimeSpan _doneFrom = fullRun;

    public TimeSpan Next()
    {
        if (_nothingDoneUpTo >= _doneFrom) (_nothingDoneUpTo, _doneFrom) = (TimeSpan.Zero, _span);
        return random.NextDouble() < 0.7
            ? _nothingDoneUpTo + (_doneFrom - _nothingDoneUpTo) * random.NextDouble()
            : _span * random.NextDouble();
    }

    public void NothingDone(TimeSpan at)
    {
        if (at > _nothingDoneUpTo && at < _doneFrom) _nothingDoneUpTo = at;
    }

    public void Done(TimeSpan at)
    {
        if (at < _doneFrom && at > _nothingDoneUpTo) _doneFrom = at;
    }

    /// <summary>The time a full run takes: the median of a few, each followed by <paramref name="undo"/>.</summary>
    public static TimeSpan Measure(Func<ProcessEnd> run, Action undo, int runs = 3)
    {
        var times = new List<TimeSpan>();
        for (int i = 0; i < runs; i++)
        {
            ProcessEnd end = run();
            Assert.True(end.ExitCode == 0, $"calibration run failed: {end.Stderr}");
            times.Add(end.Elapsed);
            undo();
        }
        return times.Order().ElementAt(runs / 2);
    }
}

/// <summary>What a series of kills found: how often each distinct state was seen right after a kill.</summary>
internal sealed class KillTally(string operation)
{
    private readonly SortedDictionary<string, int> _seen = new(StringComparer.Ordinal);

    public int Kills { get; private set; }
    public int Distinct => _seen.Count;

    public void Saw(string phase, bool killed)
    {
        if (killed) Kills++;
        _seen[phase] = _seen.GetValueOrDefault(phase) + 1;
    }

    public string Report(int iterations, TimeSpan fullRun) =>
        $"{operation}: {iterations} iterations, {Kills} killed mid-run, full run {fullRun.TotalMilliseconds:0} ms, " +
            $"{Distinct} distinct states after the kill:\n    "
        + string.Join("\n    ", _seen.Select(kv => $"{kv.Value,4} x {kv.Key}"));
}

/// <summary>One kill of a loop: its round, when it came, and how the process ended.</summary>
internal sealed record Kill(int Round, TimeSpan At, ProcessEnd End)
{
    public string When => $"kill {Round} at {At.TotalMilliseconds:0.0} ms";
}

/// <summary>What a kill left, as the tally counts it, and whether the operation had done nothing yet.</summary>
internal readonly record struct KillFinding(string State, bool NothingDone);

/// <summary>The loop every kill test runs: calibrate, then kill at scheduled moments, look at what is left, tally it.</summary>
internal static class KillLoop
{
    /// <summary>
    /// Measures <paramref name="fullRun"/> (each followed by <paramref name="afterFullRun"/>), then for each round
    /// <paramref name="kill"/> sets up and starts the operation, killing it at the moment given; <paramref name="look"/>
    /// checks and recovers what the kill left and says what it found. At the end, the kills must have found at least
    /// <paramref name="distinctAtLeast"/> distinct states.
    /// </summary>
    public static void Run(ITestOutputHelper output, string operation, int rounds, int distinctAtLeast,
        Func<ProcessEnd> fullRun, Action afterFullRun, Func<int, TimeSpan, ProcessEnd> kill, Func<Kill, KillFinding> look)
    {
        var random = new Random(Reliability.Seed(output, $"{operation} kills"));
        TimeSpan full = KillSchedule.Measure(fullRun, afterFullRun);
        var schedule = new KillSchedule(random, full);
        var tally = new KillTally(operation);
        int iterations = Reliability.Iterations(rounds);
        for (int i = 0; i < iterations; i++)
        {
            TimeSpan at = schedule.Next();
            var k = new Kill(i, at, kill(i, at));
            Assert.True(k.End.Killed || k.End.ExitCode == 0, $"{k.When}: {operation} {k.End.Describe}: {k.End.Stderr}");
            KillFinding found = look(k);
            tally.Saw($"{found.State}, {k.End.Describe}", k.End.Killed);
            if (found.NothingDone) schedule.NothingDone(at);
            if (!k.End.Killed) schedule.Done(at);
        }
        output.WriteLine(tally.Report(iterations, full));
        Assert.True(tally.Distinct >= distinctAtLeast, $"the kills found only {tally.Distinct} distinct states:\n{tally.Report(iterations, full)}");
    }
}

internal static class Reliability
{
    /// <summary>SHIM_TEST_RELIABILITY_SCALE multiplies the iterations (default 1) for longer runs by hand.</summary>
    public static int Iterations(int normal)
    {
        string? scale = Environment.GetEnvironmentVariable("SHIM_TEST_RELIABILITY_SCALE");
        return scale is not null && double.TryParse(scale, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0
            ? Math.Max(1, (int)(normal * s))
            : normal;
    }

    /// <summary>SHIM_TEST_RELIABILITY_SEED fixes the random choices; otherwise a new seed, printed.</summary>
    public static int Seed(ITestOutputHelper output, string what)
    {
        string? fixedSeed = Environment.GetEnvironmentVariable("SHIM_TEST_RELIABILITY_SEED");
        int seed = fixedSeed is not null ? int.Parse(fixedSeed, CultureInfo.InvariantCulture) : Random.Shared.Next();
        output.WriteLine($"{what}: seed {seed} (SHIM_TEST_RELIABILITY_SEED={seed} repeats its random choices)");
        return seed;
    }

    /// <summary>A guest's links as the kernel shows them, for "nothing of theirs changed" comparisons.</summary>
    public static List<IpLink> LinksOf(HookHarness h, Guest guest) => LinksOf(h.Ns.Links(), guest);

    public static List<IpLink> LinksOf(IEnumerable<IpLink> links, Guest guest) =>
        links.Where(l => l.Alias?.Contains(guest.Uuid.ToString("D"), StringComparison.Ordinal) == true)
            .OrderBy(l => l.Name, StringComparer.Ordinal).ToList();

    public static List<NameRecord> RecordsOf(NameState state, Guest guest) =>
        state.OfDomain(guest.Uuid).OrderBy(r => r.Name, StringComparer.Ordinal).ToList();
}
