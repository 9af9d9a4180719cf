using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Reliability;

/// <summary>
/// The hostile and broken inputs of Corpus/ (listed in Corpus/cases.txt with their expected exit status and stderr
/// line), each fed to the hook executable in one namespace that also holds what no call may touch: host-like devices
/// (uplink0, uplink1, eth0: veths), a macvtap someone else made on a managed name (mvtap7), and another guest's links
/// (victim: mvtap20-23). Per case: the exit status and the one stderr line as listed, no stack trace, nothing on stdout
/// but XML, nothing left behind by a failed call, every link not created by the hook exactly as `ip -d -j link`
/// showed it before (all its attributes), and the other guest's links and records as they were.
/// SHIM_TEST_CORPUS_PRINT=1 prints each case's actual line in the cases.txt format instead of failing.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class HostileInputCorpusTests(ITestOutputHelper output)
{
    private static readonly Guid GuestUuid = Guid.Parse("00000000-0000-4000-8000-00000000c0de");
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private static string CorpusDirectory => Path.Combine(SampleFiles.RepositoryRoot, "tests", "LibvirtShim.Tests", "Corpus");

    internal sealed record Case(string Name, string Operation, string Settings, int Exit, string Stderr);

    [Fact]
    public void EveryCaseEndsAsListedWithOneLineAndTouchesNothingItDidNotCreate()
    {
        List<Case> cases = ReadCases();
        Assert.True(cases.Count >= 60, $"the corpus has {cases.Count} cases");
        bool print = Environment.GetEnvironmentVariable("SHIM_TEST_CORPUS_PRINT") == "1";
        using var h = HookHarness.Create("uplink0", "uplink1");
        Guest victim = SetUp(h);
        string baseline = Untouchable(h);
        var victimBefore = Bystander.Snapshot(h, victim);
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();

        foreach (Case c in cases)
        {
            File.WriteAllText(h.SettingsFile, c.Settings == "-" ? "{}" : c.Settings);
            byte[] input = Input(c.Name);
            var watch = Stopwatch.StartNew();
            HookResult result = RunHook(h, c.Operation, input);
            watch.Stop();
            if (print)
            {
                output.WriteLine($"{c.Name} | {c.Operation} | {c.Settings} | {result.ExitCode} | {result.Stderr.TrimEnd('\n')}     " +
                    $"[{watch.Elapsed.TotalMilliseconds:0} ms]");
                Cleanup(h);
                continue;
            }
            var problems = Check(h, c, result, watch.Elapsed, baseline);
            File.WriteAllText(h.SettingsFile, "{}");
            Cleanup(h);
            if (Untouchable(h) != baseline) problems.Add("after the cleanup release, links the hook did not create differ from before");
            Look look = Look.Take(h);
            if (!Bystander.Snapshot(look, victim).Links.SequenceEqual(victimBefore.Links)
                || !Bystander.Snapshot(look, victim).Records.SequenceEqual(victimBefore.Records))
                problems.Add("the other guest's links or records changed");
            if (Invariants.Violations(look.State, look.Links, LibvirtShim.Session.LinkMarker.For(h.Settings),
                [victim.Uuid, GuestUuid]) is { Count: > 0 } broken)
                problems.Add("kernel and state disagree: " + string.Join("; ", broken));
            if (problems.Count > 0) failures.Add($"{c.Name} ({c.Operation}): exit {result.ExitCode}, " +
                $"stderr '{result.Stderr.TrimEnd('\n')}':\n    " + string.Join("\n    ", problems));
        }
        output.WriteLine($"{cases.Count} cases in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} cases failed:\n" + string.Join("\n", failures));
    }

    /// <summary>What a case must have done, as far as can be seen right after it.</summary>
    private static List<string> Check(HookHarness h, Case c, HookResult result, TimeSpan elapsed, string baseline)
    {
        var problems = new List<string>();
        if (result.ExitCode != c.Exit) problems.Add($"exit {result.ExitCode}, listed {c.Exit}");
        string stderr = result.Stderr.EndsWith('\n') ? result.Stderr[..^1] : result.Stderr;
        if (!Matches(c.Stderr, stderr)) problems.Add($"stderr differs from the listed '{c.Stderr}'");
        if (result.Stderr.Contains("   at ", StringComparison.Ordinal) || result.Stderr.Contains("Unhandled", StringComparison.Ordinal)
            || result.Stderr.Contains("internal error", StringComparison.Ordinal))
            problems.Add("stack trace or internal error on stderr");
        if (stderr.Contains('\n', StringComparison.Ordinal) || (result.Stderr.Length > 0 && !result.Stderr.EndsWith('\n')))
            problems.Add("stderr is not exactly one line");
        if (result.Stdout.Length > 0 && !(c.Operation is "migrate" or "restore" && result.ExitCode == 0 && IsDomainXml(result.Stdout)))
            problems.Add($"unexpected stdout: {DomainReaderShort(result.Stdout)}");
        if (elapsed > Bound) problems.Add($"took {elapsed.TotalSeconds:0.0} s (bound {Bound.TotalSeconds} s)");
        bool created = c.Operation == "prepare" && result.ExitCode == 0;
        if (!created)
        {
            if (Untouchable(h) != baseline) problems.Add("links the hook did not create differ from before");
            Look look = Look.Take(h);
            if (look.Links.Any(l => Invariants.OwnerOf(l, LibvirtShim.Session.LinkMarker.For(h.Settings), [GuestUuid]) == GuestUuid))
                problems.Add("a link of the guest exists after a call that creates none");
            if (result.ExitCode != 0 && look.State?.OfDomain(GuestUuid).Count > 0)
                problems.Add("a failed call left records: "
                    + string.Join(", ", look.State!.OfDomain(GuestUuid).Select(r => $"{r.Name} ({r.Holding})")));
        }
        return problems;
    }

    /// <summary>The other guest (prepared by the hook), a macvtap someone else made on a managed name, a device named eth0.</summary>
    private static Guest SetUp(HookHarness h)
    {
        h.Ns.AddVeth("eth0", "eth0p");
        h.Ns.Ip("link", "add", "link", "uplink0", "name", "mvtap7", "address", "52:54:00:ee:ee:07", "type", "macvtap", "mode", "bridge");
        Guest victim = Guest.Make("victim", 7, 4, firstName: 20);
        HookResult prepared = h.Run(victim.Name, "prepare", "begin", victim.Xml);
        Assert.True(prepared.ExitCode == 0, prepared.Stderr);
        return victim;
    }

    /// <summary>The guest's release, as libvirt makes after any call; by UUID, so it also frees what a case reserved or created.</summary>
    private static void Cleanup(HookHarness h)
    {
        HookResult released = h.Run("guest", "release", "end", $"<domain><name>guest</name><uuid>{GuestUuid}</uuid></domain>");
        Assert.True(released.ExitCode == 0, released.Stderr);
    }

    private static HookResult RunHook(HookHarness h, string operation, byte[] input)
    {
        using Process process = h.StartProcess("hook", "guest", operation, operation is "release" or "stopped" ? "end" : "begin", "-");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        try
        {
            process.StandardInput.BaseStream.Write(input);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The hook stopped reading (oversized input): what it says about it is checked, not the pipe.
        }
        process.WaitForExit();
        return new HookResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Every link the hook did not create, with all that `ip -d -j link` shows of it.</summary>
    private static string Untouchable(HookHarness h)
    {
        using JsonDocument document = JsonDocument.Parse(h.Ns.Ip("-d", "-j", "link", "show"));
        return string.Join("\n", document.RootElement.EnumerateArray()
            .Where(l => !Invariants.IsMarked(IpLink.From(l)))
            .Select(l => l.GetRawText()));
    }

    internal static List<Case> ReadCases() =>
        File.ReadAllLines(Path.Combine(CorpusDirectory, "cases.txt"))
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line =>
            {
                string[] parts = line.Split('|', 5, StringSplitOptions.TrimEntries);
                return new Case(parts[0], parts[1], parts[2], int.Parse(parts[3], System.Globalization.CultureInfo.InvariantCulture), parts[4]);
            })
            .ToList();

    /// <summary>The input of a case: its .xml or .bin file as it is, or what its .gen recipe makes.</summary>
    internal static byte[] Input(string name)
    {
        string path = Path.Combine(CorpusDirectory, name);
        if (File.Exists(path + ".xml")) return File.ReadAllBytes(path + ".xml");
        if (File.Exists(path + ".bin")) return File.ReadAllBytes(path + ".bin");
        string[] recipe = File.ReadAllText(path + ".gen").Trim().Split(' ');
        int n = int.Parse(recipe[1], System.Globalization.CultureInfo.InvariantCulture);
        return Encoding.UTF8.GetBytes(recipe[0] switch
        {
            "comment" => Domain(metadata: "", devices: OwnedNic(1, "mvtap1"), links: Link(1), padding: "<!--" + new string('x', n) + "-->"),
            "nest" => Domain(metadata: string.Concat(Enumerable.Repeat("<x>", n)) + string.Concat(Enumerable.Repeat("</x>", n)),
                devices: OwnedNic(1, "mvtap1"), links: Link(1)),
            "nics" => Domain(metadata: "", devices: string.Concat(Enumerable.Range(0, n).Select(i => OwnedNic(i, $"mvtap{100 + i}"))),
                links: string.Concat(Enumerable.Range(0, n).Select(Link))),
            "links" => Domain(metadata: "", devices: "", links: string.Concat(Enumerable.Range(0, n).Select(Link))),
            "longmac" => Domain(metadata: "", devices: OwnedNic(1, "mvtap1"), links: $"<shim:link mac='{new string('A', n)}' source='uplink0'/>"),
            _ => throw new InvalidOperationException($"{name}.gen: unknown recipe '{recipe[0]}'"),
        });
    }

    private static string Mac(int i) => $"52:54:{(i >> 24) & 255:x2}:{(i >> 16) & 255:x2}:{(i >> 8) & 255:x2}:{i & 255:x2}";

    private static string OwnedNic(int i, string name) =>
        $"<interface type='ethernet'><mac address='{Mac(i)}'/><target dev='{name}' managed='no'/></interface>\n";

    private static string Link(int i) => $"<shim:link mac='{Mac(i)}' source='uplink0' mode='bridge'/>\n";

    private static string Domain(string metadata, string devices, string links, string padding = "") =>
        "<domain type='kvm'><name>guest</name>" +
            $"<uuid>{GuestUuid}</uuid>{padding}<metadata>{metadata}<shim:macvtap " +
            $"xmlns:shim='urn:libvirt-shim:macvtap:1'>{links}</shim:macvtap></metadata><devices>{devices}</devices></domain>\n";

    private static bool Matches(string expected, string actual) =>
        expected.Contains("{*}", StringComparison.Ordinal)
            ? Regex.IsMatch(actual, "^" + string.Join(".*", expected.Split("{*}").Select(Regex.Escape)) + "$", RegexOptions.Singleline)
            : expected == actual;

    private static bool IsDomainXml(string text)
    {
        try
        {
            return XDocument.Parse(text).Root?.Name == "domain";
        }
        catch (System.Xml.XmlException)
        {
            return false;
        }
    }

    private static string DomainReaderShort(string text) => text.Length <= 80 ? text : text[..80] + "...";
}
