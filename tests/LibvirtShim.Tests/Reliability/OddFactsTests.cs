using System.Text;
using LibvirtShim.Net;
using LibvirtShim.Reports;
using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Reliability;

/// <summary>
/// One odd fact (a name the kernel accepts and the shim once refused, a bad record, an unreadable status file, a lost
/// state, links nobody recorded, an unlabelled link) must not make the hook lose or destroy what it should keep.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class OddFactsTests(ITestOutputHelper output)
{
    private static readonly Guest Starting = Guest.Make("starting", 61, 3, firstName: 30);
    private static readonly Guest Other = Guest.Make("other", 62, 2, firstName: 40);

    /// <summary>Names around every rule of dev_valid_name, and random ones: the shim's rule is the kernel's.</summary>
    [Fact]
    public void TheNameRuleIsTheKernels()
    {
        using var ns = NetNamespace.Create();
        var random = new Random(Reliability.Seed(output, "names"));
        string[] pool = ["a", "Z", "0", "-", "_", ".", "/", ":", " ", "\t", "\n", "\v", "\f", "\r", "\u0001", "\u001f", "\u007f", "\u0085",
            "\u00a0", "\u00e9", "\u2003", "\u3000", "\u200b", "\ud83d\ude00", "\u00ff", "\u0100"];
        var names = new List<string> { ".", "..", "...", "a.b", "a\u2003b", "a\u00a0b", "\u0001x", "x\u007f",
            "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9a",
            "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9", "\ud83d\ude00\ud83d\ude00\ud83d\ude00x",
                "\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00", "abcdefghijklmno", "abcdefghijklmnop" };
        for (int i = 0; i < 60; i++) names.Add(string.Concat(Enumerable.Range(0, random.Next(1, 9)).Select(_ => pool[random.Next(pool.Length)])));
        var disagreements = new List<string>();
        for (int i = 0; i < names.Count; i++)
        {
            string name = names[i];
            if (name.StartsWith('-')) continue;
            (int exit, string error) = ns.TryIp("link", "add", "name", name, "type", "veth", "peer", "name", $"peer{i}");
            if (exit == 0) ns.Ip("link", "del", $"peer{i}");
            bool shimAccepts = InterfaceName.Problem(name) is null;
            if ((exit == 0) != shimAccepts)
                disagreements.Add($"'{Escape(name)}' ({Encoding.UTF8.GetByteCount(name)} bytes): " +
                    $"kernel {(exit == 0 ? "accepts" : "refuses: " + error.Trim())}, shim {(shimAccepts ? "accepts" : InterfaceName.Problem(name))}");
        }
        Assert.True(disagreements.Count == 0, string.Join("\n", disagreements));
    }

    [Fact]
    public void TheStateHoldsEveryNameTheKernelAccepts()
    {
        var scheme = new NameScheme("mvtap", 64);
        var state = new NameState(scheme);
        string[] odd = ["a\u2003b", "\u0001x", "x\u007f", "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9a",
            "\ud83d\ude00\ud83d\ude00\ud83d\ude00x", "tap\u0085"];
        foreach (string name in odd)
        {
            Assert.Null(InterfaceName.Problem(name));
            state.Put(new NameRecord(name, Holding.Libvirt, Guid.NewGuid(), "odd", Lower: "up\u2003link"));
        }
        state.Put(new NameRecord("mvtap3", Holding.Created, Guid.NewGuid(), "plain", Ifindex: 7));

        NameState back = StateCodec.Decode(StateCodec.Encode(state), scheme);

        Assert.Empty(back.Skipped);
        Assert.Equal(state.Records.OrderBy(r => r.Name, StringComparer.Ordinal), back.Records.OrderBy(r => r.Name, StringComparer.Ordinal));
    }

    /// <summary>Each kind of bad record, with the file's checksum made right: that record is skipped, saying why, and every other one is
    /// kept.</summary>
    [Theory]
    [InlineData("name the kernel refuses", "its name contains")]
    [InlineData("name not UTF-8", "its name is not UTF-8")]
    [InlineData("unknown holding", "unknown holding 99")]
    [InlineData("domain name not UTF-8", "its domain name or lower device is not UTF-8")]
    [InlineData("name held twice", "its name is held by an earlier record")]
    public void OneBadRecordIsSkippedAndEveryOtherKept(string corruption, string reason)
    {
        var scheme = new NameScheme("mvtap", 64);
        var state = new NameState(scheme);
        for (int i = 0; i < 6; i++)
            state.Put(new NameRecord($"mvtap{i}", Holding.Created, TestDomains.Uuid(i), $"guest{i}",
                new MacAddress(0x525400000000UL + (ulong)i), "uplink0", Ifindex: 10 + i));
        state.Put(new NameRecord("badapple", Holding.Reserved, TestDomains.Uuid(9), "doomed-domain", ExpiresAt: 5));
        byte[] file = StateCodec.Encode(state);
        int at = IndexOf(file, "badapple"u8);
        switch (corruption)
        {
            case "name the kernel refuses": file[at + 3] = (byte)' '; break;
            case "name not UTF-8": file[at + 3] = 0xFF; break;
            case "unknown holding": file[at + 8] = 99; break;
            case "domain name not UTF-8": file[IndexOf(file, "doomed-domain"u8) + 2] = 0xC3; break;
            case "name held twice": "mvtap3\0\0"u8.CopyTo(file.AsSpan(at)); file[at - 2] = 6; break;
        }
        if (corruption == "name held twice") file = WithoutTwoBytes(file, at + 6);
        file = CorruptStateTests.Checksummed(file);

        NameState back = StateCodec.Decode(file, scheme);

        string skipped = Assert.Single(back.Skipped);
        Assert.Contains(reason, skipped);
        Assert.Equal(state.Records.Where(r => r.Name != "badapple").OrderBy(r => r.Name), back.Records.OrderBy(r => r.Name));
        Assert.Equal(6, back.HeldManagedNames);
        NameState again = StateCodec.Decode(StateCodec.Encode(back), scheme);
        Assert.Empty(again.Skipped);
        Assert.Equal(back.Records.OrderBy(r => r.Name), again.Records.OrderBy(r => r.Name));
    }

    /// <summary>
    /// The issue's case: a direct NIC whose name the kernel accepts (U+2003 in it) is recorded at start, while another
    /// guest's start is in flight (prepared, no status file yet). Later calls keep using the state: nothing is reseeded,
    /// the guest in flight keeps its links and records. A direct NIC name the kernel refuses is left out with a warning.
    /// </summary>
    [Fact]
    public void ANameTheKernelAcceptsIsRecordedAndTheStateStaysWhole()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run(Starting.Name, "prepare", "begin", Starting.Xml).ExitCode);
        var before = Reliability.RecordsOf(h.ReadState()!, Starting);
        var odd = new Guest("odd", TestDomains.Uuid(63), []);
        string direct = "<interface type='direct'><mac address='52:54:00:00:63:01'/><source dev='uplink0' mode='vepa'/>" +
            "<target dev='mv\u2003tap'/></interface>"
            + "<interface type='direct'><mac address='52:54:00:00:63:02'/><source dev='uplink0' mode='vepa'/><target dev='no\u00a0way'/></interface>"
            + "<interface type='direct'><mac address='52:54:00:00:63:03'/><source dev='uplink0' mode='vepa'/><target dev='macvtap5'/></interface>";
        string oddXml = TestDomains.Owned(odd.Name, odd.Uuid, [], direct);

        Assert.Equal((0, ""), Tuple(h.Run(odd.Name, "started", "begin", oddXml)));
        Assert.Equal(0, h.Run(Other.Name, "prepare", "begin", Other.Xml).ExitCode);
        Assert.Equal(0, h.Run(Other.Name, "release", "end", Other.Xml).ExitCode);

        string log = File.ReadAllText(h.Settings.LogFile);
        Assert.Single(log.Split('\n'), line =>
            line.Contains("rebuilding it by seeding", StringComparison.Ordinal));   // the first call's, on no state
        Assert.Contains("is not a link name the kernel accepts", log);
        NameState state = h.ReadState()!;
        Assert.Empty(state.Skipped);
        Assert.Equal(["macvtap5", "mv\u2003tap"], state.OfDomain(odd.Uuid).Select(r => r.Name).Order(StringComparer.Ordinal));
        Assert.Equal(before, Reliability.RecordsOf(state, Starting));
        Assert.Equal(3, Reliability.LinksOf(h, Starting).Count);
    }

    /// <summary>A bad record makes the next call complete the state by seeding from the others, not replace it: the start in flight is
    /// kept.</summary>
    [Fact]
    public void ABadRecordNeverCostsAStartInFlightItsLinks()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run(Starting.Name, "prepare", "begin", Starting.Xml).ExitCode);
        Assert.Equal(0, h.Run(Other.Name, "prepare", "begin", Other.Xml).ExitCode);
        h.WriteStatusFile(Other.Name, Other.Xml);
        var expected = Reliability.RecordsOf(h.ReadState()!, Starting);
        string path = Path.Combine(h.Settings.StateDir, "state");
        byte[] file = File.ReadAllBytes(path);
        file[IndexOf(file, "mvtap40"u8) + 7] = 99;   // the holding of one of the running guest's records
        File.WriteAllBytes(path, CorruptStateTests.Checksummed(file));

        HookResult started = h.Run(Other.Name, "started", "begin", Other.Xml.Replace("</devices>",
            "<interface type='direct'><mac address='52:54:00:00:62:09'/><source dev='uplink0' mode='vepa'/><target dev='macvtap9'/>" +
                "</interface></devices>"));

        Assert.Equal((0, ""), Tuple(started));
        Assert.Contains("state file record", File.ReadAllText(h.Settings.LogFile));
        NameState state = Invariants.Hold(h, "after the skipped record", [Starting.Uuid, Other.Uuid]);
        Assert.Equal(expected, Reliability.RecordsOf(state, Starting));
        Assert.Equal(["macvtap9", "mvtap40", "mvtap41"], state.OfDomain(Other.Uuid).Select(r => r.Name).Order());
    }

    /// <summary>
    /// The state lost (deleted, or garbage) while a guest's start is in flight: the rebuilt state keeps its links, recorded
    /// with an expiry; a seed with every fact at hand after that expiry, the guest still not running, deletes them.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SeedingWithoutTheOldStateNeverDeletesAStartInFlight(bool garbage)
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run(Starting.Name, "prepare", "begin", Starting.Xml).ExitCode);
        string path = Path.Combine(h.Settings.StateDir, "state");
        if (garbage) File.WriteAllBytes(path, Encoding.ASCII.GetBytes("not a state"));
        else File.Delete(path);

        Assert.Equal(0, h.Run(Other.Name, "prepare", "begin", Other.Xml).ExitCode);
        Seed(h, DateTimeOffset.UtcNow);

        Assert.Equal(3, Reliability.LinksOf(h, Starting).Count);
        NameState state = Invariants.Hold(h, "after the lost state", [Starting.Uuid, Other.Uuid]);
        Assert.All(state.OfDomain(Starting.Uuid), r => Assert.Equal(Holding.Created, r.Holding));

        Seed(h, DateTimeOffset.UtcNow.AddSeconds(h.Settings.ReservationSeconds + 5));
        Assert.Empty(Reliability.LinksOf(h, Starting));
        Invariants.NothingLeftOf(h, Starting.Uuid, "a seed after the expiry");
        Assert.Equal(2, Reliability.LinksOf(h, Other).Count);
    }

    /// <summary>A running guest whose status file cannot be read (deeper than the bound) is unknown, not gone: seeding keeps its links and
    /// status reports it.</summary>
    [Theory]
    [InlineData("too deep")]
    [InlineData("not XML")]
    public void AnUnreadableStatusFileMeansUnknownNotGone(string how)
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run(Starting.Name, "prepare", "begin", Starting.Xml).ExitCode);
        string unreadable = how == "too deep"
            ? Starting.Xml.Replace("<memory", string.Concat(Enumerable.Repeat("<x>", 400)) + string.Concat(Enumerable.Repeat("</x>", 400))
                + "<memory")
            : "<domstatus state='running'><domain>";
        h.WriteStatusFile(Starting.Name, unreadable);
        File.Delete(Path.Combine(h.Settings.StateDir, "state"));

        Seed(h, DateTimeOffset.UtcNow);
        Seed(h, DateTimeOffset.UtcNow.AddSeconds(h.Settings.ReservationSeconds + 5));

        Assert.Equal(3, Reliability.LinksOf(h, Starting).Count);
        Invariants.Hold(h, "after seeding with an unreadable status file", [Starting.Uuid]);
        using ShimContext context = h.OpenContext();
        StatusReport report = StatusReport.Gather(context);
        Assert.False(report.Agrees);
        Assert.Single(report.UnreadableStatusFiles);
    }

    /// <summary>
    /// What a prepare killed between creating its links and marking them leaves: macvtaps in the domain's group
    /// without alias. Seeding never calls them healthy: status flags them whether their domain is known or not, and
    /// the domain's release deletes them.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void UnlabelledLinksOfAKilledPrepareAreNeverHealthy(bool domainDefined)
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run(Starting.Name, "prepare", "begin", Starting.Xml).ExitCode);
        foreach (TestNic nic in Starting.Nics) h.Ns.Ip("link", "set", "dev", nic.Name, "alias", "");
        Assert.All(h.Ns.Links().Where(l => Starting.Nics.Any(n => n.Name == l.Name)), l => Assert.Null(l.Alias));
        File.Delete(Path.Combine(h.Settings.StateDir, "state"));
        if (domainDefined) File.WriteAllText(Path.Combine(h.Settings.LibvirtConfigDir, Starting.Name + ".xml"), Starting.Xml);

        Seed(h, DateTimeOffset.UtcNow);
        using (ShimContext context = h.OpenContext())
        {
            StatusReport report = StatusReport.Gather(context);
            Assert.False(report.Agrees);
            Assert.Equal(3, report.Entries.Count(e => e.Problem is AuditProblem.Unlabelled or AuditProblem.UnlabelledUnknown));
            if (domainDefined) Assert.All(h.ReadState()!.OfDomain(Starting.Uuid), r => Assert.Equal(Holding.Created, r.Holding));
        }

        Assert.Equal(0, h.Run(Starting.Name, "release", "end", Starting.Xml).ExitCode);
        Assert.DoesNotContain(h.Ns.Links(), l => Starting.Nics.Any(n => n.Name == l.Name));
        using (ShimContext context = h.OpenContext()) Assert.True(StatusReport.Gather(context).Agrees);
    }

    /// <summary>
    /// 40 links nobody recorded on the names after the cursor: an arriving guest still gets a free name, and what the
    /// calls find is recorded. When no name is free at all, the call fails, and what it found stays recorded anyway.
    /// Before any call, status does not call links nobody recorded healthy.
    /// </summary>
    [Fact]
    public void NamesFoundTakenAreKeptAndOnlyATrueShortageFails()
    {
        using var h = HookHarness.Create();
        h.Settings.Capacity = 48;
        for (int i = 0; i < 40; i++) h.Ns.Ip("link", "add", $"mvtap{i}", "type", "veth", "peer", "name", $"peer{i}");
        var holder = Guest.Make("holder", 64, 1, firstName: 47);
        Assert.Equal(0, h.Run(holder.Name, "prepare", "begin", holder.Xml).ExitCode);
        using (ShimContext context = h.OpenContext()) Assert.False(StatusReport.Gather(context).Agrees);

        var arriving = Guest.Make("arriving", 65, 2, firstName: 0);
        HookResult migrated = h.Run(arriving.Name, "migrate", "begin", arriving.Xml);

        Assert.True(migrated.ExitCode == 0, migrated.Stderr);
        Assert.Contains("mvtap40", migrated.Stdout);
        Assert.Contains("mvtap41", migrated.Stdout);
        NameState state = h.ReadState()!;
        Assert.Equal(40, state.HeldAs(Holding.Foreign).Count);

        h.Ns.Ip("link", "add", "mvtap42", "type", "veth", "peer", "name", "peer42");
        h.Ns.Ip("link", "add", "mvtap43", "type", "veth", "peer", "name", "peer43");
        var crowd = Guest.Make("crowd", 66, 6, firstName: 0);
        HookResult refused = h.Run(crowd.Name, "restore", "begin", crowd.Xml);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("no free name: all 48 mvtapN names are held", refused.Stderr);
        state = h.ReadState()!;
        Assert.Empty(state.OfDomain(crowd.Uuid));
        Assert.Equal(42, state.HeldAs(Holding.Foreign).Count);
    }

    private static void Seed(HookHarness h, DateTimeOffset now)
    {
        h.Clock = new ManualClock(now);
        try
        {
            using ShimContext context = h.OpenContext();
            using ShimSession session = ShimSession.Open(context);
            session.Reseed(session.State);
        }
        finally
        {
            h.Clock = TimeProvider.System;
        }
    }

    private static (int, string) Tuple(HookResult r) => (r.ExitCode, r.Stderr);

    private static int IndexOf(byte[] file, ReadOnlySpan<byte> text)
    {
        int at = file.AsSpan().IndexOf(text);
        Assert.True(at >= 0);
        return at;
    }

    private static byte[] WithoutTwoBytes(byte[] file, int at) => [.. file[..at], .. file[(at + 2)..]];

    private static string Escape(string name) =>
        string.Concat(name.Select(c => c < 0x20 || c is >= '\u007f' and <= '\u00a0' ? $"\\u{(int)c:x4}" : c.ToString()));
}
