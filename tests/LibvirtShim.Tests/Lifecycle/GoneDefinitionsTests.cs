using LibvirtShim.Configuration;
using LibvirtShim.Lifecycle;
using LibvirtShim.Net;
using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Lifecycle;

/// <summary>Names held for a definition go back when the definition goes: at allocation and seed, parsing a definition only when its file
/// changed; status and doctor say so and change nothing.</summary>
public class GoneDefinitionsTests : IDisposable
{
    private static readonly Guid Web = TestDomains.Uuid(71), Db = TestDomains.Uuid(72);
    private readonly string _root = Directory.CreateTempSubdirectory("shim-gone-").FullName;
    private readonly ShimSettings _settings;

    public GoneDefinitionsTests()
    {
        _settings = new ShimSettings { StateDir = Path.Combine(_root, "state"), LibvirtConfigDir = Path.Combine(_root, "etc"), Capacity = 2 };
        Directory.CreateDirectory(_settings.StateDir);
        Directory.CreateDirectory(_settings.LibvirtConfigDir);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static NameRecord Defined(string name, string domain, Guid uuid, long expiresAt = 0) =>
        new(name, Holding.Defined, uuid, domain, default, "uplink0", MacvtapMode.Bridge, ExpiresAt: expiresAt);

    private NameState State(params NameRecord[] records)
    {
        var state = new NameState(new NameScheme(_settings.NamePrefix, _settings.Capacity));
        foreach (NameRecord record in records) state.Put(record);
        return state;
    }

    private string Define(string domain, Guid uuid, params string[] names)
    {
        string path = Path.Combine(_settings.LibvirtConfigDir, domain + ".xml");
        File.WriteAllText(path, TestDomains.Owned(domain, uuid, names.Select((n, i) => new TestNic(TestDomains.Mac(7, i), n))));
        return path;
    }

    private List<string> Freed(NameState state, long now = 1000)
    {
        using StateLease lease = StateLeases.ToChange(_settings.StateDir);
        return GoneDefinitions.Free(_settings, lease, state, now).Select(r => r.Name).Order().ToList();
    }

    [Fact]
    public void AGoneOrRedefinedDefinitionGivesItsNamesBackAndAPresentOneKeepsThem()
    {
        Define("web", Web, "mvtap0");
        Define("db", TestDomains.Uuid(99), "mvtap1");   // db undefined, another domain defined under its name
        NameState state = State(Defined("mvtap0", "web", Web), Defined("mvtap1", "db", Db));

        Assert.Equal(["mvtap1"], Freed(state));
        Assert.True(state.IsHeld("mvtap0"));
        Assert.False(state.IsHeld("mvtap1"));

        File.Delete(Path.Combine(_settings.LibvirtConfigDir, "web.xml"));
        Assert.Equal(["mvtap0"], Freed(state));
        Assert.Equal(0, state.Count);
    }

    [Fact]
    public void ANameTheDefinitionNoLongerUsesGoesAndAHoldNotYetDefinedStays()
    {
        Define("web", Web, "mvtap0");
        NameState state = State(Defined("mvtap0", "web", Web), Defined("mvtap1", "web", Web), Defined("mvtap9", "db", Db, expiresAt: 2000));

        Assert.Equal(["mvtap1"], Freed(state, now: 1000));
        Assert.Equal(["mvtap9"], Freed(state, now: 2000));
    }

    [Fact]
    public void AHoldNotYetExpiredGoesWithADefinitionSeenBefore()
    {
        NameState state = State(Defined("mvtap0", "web", Web, expiresAt: 2000), Defined("mvtap1", "db", Db, expiresAt: 2000));
        Assert.Empty(Freed(state));
        Define("web", Web, "mvtap0");
        Assert.Empty(Freed(state));

        File.Delete(Path.Combine(_settings.LibvirtConfigDir, "web.xml"));
        Assert.Equal(["mvtap0"], Freed(state));
        Assert.True(state.IsHeld("mvtap1"));
    }

    [Fact]
    public void AHoldNotYetExpiredStaysWhileItsDefinitionDoesNotNameItYet()
    {
        Define("web", Web);
        NameState state = State(Defined("mvtap0", "web", Web, expiresAt: 2000));
        Assert.Empty(Freed(state));
        Assert.True(state.IsHeld("mvtap0"));
    }

    [Fact]
    public void ADefinitionIsParsedOnlyWhenItsFileChanged()
    {
        string path = Define("web", Web, "mvtap0");
        NameState state = State(Defined("mvtap0", "web", Web));
        Assert.Empty(Freed(state));

        // The same size and modification time: not parsed again, so the UUID written meanwhile is not seen.
        DateTime mtime = File.GetLastWriteTimeUtc(path);
        string other = File.ReadAllText(path).Replace(Web.ToString(), TestDomains.Uuid(73).ToString(), StringComparison.Ordinal);
        File.WriteAllText(path, other);
        File.SetLastWriteTimeUtc(path, mtime);
        Assert.Empty(Freed(state));

        File.SetLastWriteTimeUtc(path, mtime.AddSeconds(1));
        Assert.Equal(["mvtap0"], Freed(state));
    }

    [Fact]
    public void ADefinitionThatCannotBeReadKeepsItsNames()
    {
        File.WriteAllText(Path.Combine(_settings.LibvirtConfigDir, "web.xml"), "<domain");
        NameState state = State(Defined("mvtap0", "web", Web));
        Assert.Empty(Freed(state));
    }

    /// <summary>virsh domrename: the definition's file takes the new name, the UUID stays; the names stay held, now under that name.</summary>
    [Fact]
    public void ARenamedDefinitionKeepsItsNames()
    {
        Define("web", Web, "mvtap0");
        NameState state = State(Defined("mvtap0", "web", Web));
        Assert.Empty(Freed(state));
        File.Delete(Path.Combine(_settings.LibvirtConfigDir, "web.xml"));
        Define("www", Web, "mvtap0");

        Assert.Empty(Freed(state));

        Assert.Equal("www", state.Find("mvtap0")!.DomainName);
        File.Delete(Path.Combine(_settings.LibvirtConfigDir, "www.xml"));
        Assert.Equal(["mvtap0"], Freed(state));
    }

    /// <summary>Where the definitions cannot be looked at (the directory missing, or not a directory), nothing is known gone.</summary>
    [Theory]
    [InlineData("missing")]
    [InlineData("a file")]
    public void WithoutTheDefinitionsDirectoryNothingIsFreed(string what)
    {
        Define("web", Web, "mvtap0");
        NameState state = State(Defined("mvtap0", "web", Web), Defined("mvtap1", "db", Db));
        Directory.Delete(_settings.LibvirtConfigDir, recursive: true);
        if (what == "a file") File.WriteAllText(_settings.LibvirtConfigDir, "");

        Assert.Empty(Freed(state));
        Assert.Equal(2, state.Count);
    }

    /// <summary>A definition file that cannot be read leaves it unknown whether the others' definitions are gone: none is freed.</summary>
    [Fact]
    public void AnUnreadableDefinitionFileLeavesEveryRenameInDoubt()
    {
        NameState state = State(Defined("mvtap1", "db", Db));
        File.WriteAllText(Path.Combine(_settings.LibvirtConfigDir, "other.xml"), "<domain");
        Assert.Empty(Freed(state));
        File.Delete(Path.Combine(_settings.LibvirtConfigDir, "other.xml"));
        Assert.Equal(["mvtap1"], Freed(state));
    }

    /// <summary>A well-formed file in the directory that is no domain definition (a note, a backup of another kind) leaves no doubt.</summary>
    [Fact]
    public void AFileThatIsNoDefinitionLeavesNoDoubt()
    {
        NameState state = State(Defined("mvtap1", "db", Db));
        File.WriteAllText(Path.Combine(_settings.LibvirtConfigDir, "notes.xml"), "<notes><uuid>not one</uuid></notes>");

        Assert.Equal(["mvtap1"], Freed(state));
    }

    /// <summary>A domain's name may hold a tab (libvirt allows it): its definition is found like any other.</summary>
    [Fact]
    public void ADefinitionWhoseNameHoldsATabKeepsItsNames()
    {
        Define("we\tb", Web, "mvtap0");
        NameState state = State(Defined("mvtap0", "we\tb", Web));

        Assert.Empty(Freed(state));
        Assert.Empty(Freed(state));
        File.Delete(Path.Combine(_settings.LibvirtConfigDir, "we\tb.xml"));
        Assert.Equal(["mvtap0"], Freed(state));
    }

    [Fact]
    public void AnAllocationThatNeedsNamesGetsThoseOfAnUndefinedGuest()
    {
        using var h = HookHarness.Create();
        h.Settings.Capacity = 2;
        SaveState(h, Defined("mvtap0", "web", Web), Defined("mvtap1", "db", Db));
        Define(h, "web", Web, "mvtap0");
        using ShimContext context = h.OpenContext();
        using ShimSession session = ShimSession.Open(context);

        List<string> names = TakeFreeNames.Run(session, context.Links, context.Settings, context.Now, new[] { 1 }, (_, n) =>
            new NameRecord(n, Holding.Reserved, Guid.NewGuid(), "new", ExpiresAt: long.MaxValue), "test");

        Assert.Equal(["mvtap1"], names);
        Assert.Equal("web", session.State.Find("mvtap0")!.DomainName);
    }

    [Fact]
    public void StatusShowsTheNamesOfAnUndefinedGuestUntilTheNextAllocationFreesThem()
    {
        using var h = HookHarness.Create();
        SaveState(h, Defined("mvtap0", "web", Web), Defined("mvtap1", "db", Db));
        Define(h, "web", Web, "mvtap0");
        Define(h, "db", Db, "mvtap1");

        HookResult defined = HookHarness.Finish(h.StartProcess("status"), "");
        Assert.True(defined.ExitCode == 0, defined.Stdout + defined.Stderr);

        File.Delete(Path.Combine(h.Settings.LibvirtConfigDir, "db.xml"));
        for (int look = 0; look < 2; look++)
        {
            HookResult undefined = HookHarness.Finish(h.StartProcess("status"), "");
            Assert.True(undefined.ExitCode == 0, undefined.Stdout + undefined.Stderr);   // not a disagreement: nothing to do
            Assert.Contains("1 name(s) held for definitions that are gone (not a disagreement):", undefined.Stdout);
            Assert.Contains("state and kernel agree", undefined.Stdout);
            string row = undefined.Stdout.Split('\n').Single(l => l.TrimStart().StartsWith("mvtap1 ", StringComparison.Ordinal));
            Assert.Contains("definition gone: will be freed at the next allocation or seed", row);
            Assert.Contains("  mvtap1: definition gone: will be freed at the next allocation or seed: the domain was undefined", undefined.Stdout);
            Assert.Equal("db", h.ReadState()!.Find("mvtap1")?.DomainName);
        }

        using (ShimContext context = h.OpenContext())
        using (ShimSession session = ShimSession.Open(context))
        {
            TakeFreeNames.Run(session, context.Links, context.Settings, context.Now, new[] { 1 }, (_, n) =>
                new NameRecord(n, Holding.Reserved, Guid.NewGuid(), "new", ExpiresAt: long.MaxValue), "test");
            session.Commit();
        }
        Assert.NotEqual("db", h.ReadState()!.Find("mvtap1")?.DomainName);
        HookResult after = HookHarness.Finish(h.StartProcess("status"), "");
        Assert.DoesNotContain("definition gone", after.Stdout);
        Assert.Contains("mvtap0", after.Stdout);
    }

    [Fact]
    public void SeedFreesTheNamesOfADefinitionSeenBeforeAndGoneNow()
    {
        using var h = HookHarness.Create();
        SaveState(h, Defined("mvtap0", "web", Web, expiresAt: long.MaxValue));
        Define(h, "web", Web, "mvtap0");
        using (ShimContext context = h.OpenContext())
        using (ShimSession session = ShimSession.Open(context))
        {
            session.Reseed(session.State);
        }
        Assert.True(h.ReadState()!.IsHeld("mvtap0"));

        File.Delete(Path.Combine(h.Settings.LibvirtConfigDir, "web.xml"));
        HookResult seed = HookHarness.Finish(h.StartProcess("seed"), "");

        Assert.True(seed.ExitCode == 0, seed.Stdout + seed.Stderr);
        Assert.False(h.ReadState()!.IsHeld("mvtap0"));
    }

    private static void Define(HookHarness h, string domain, Guid uuid, string name) =>
        File.WriteAllText(Path.Combine(h.Settings.LibvirtConfigDir, domain + ".xml"),
            TestDomains.Owned(domain, uuid, [new TestNic(TestDomains.Mac(7, 0), name)]));

    private static void SaveState(HookHarness h, params NameRecord[] records)
    {
        using StateLease lease = new StateStore(h.Settings.StateDir, TimeSpan.FromSeconds(5)).LockToChange();
        var state = new NameState(new NameScheme(h.Settings.NamePrefix, h.Settings.Capacity));
        foreach (NameRecord record in records) state.Put(record);
        lease.Save(state);
    }
}
