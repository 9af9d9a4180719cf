using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>
/// status, doctor and explain change nothing: every file of the state directory is byte for byte and to the nanosecond as
/// it was, even with names a change would free (a definition gone) or confirm (a hold its definition names now), and
/// without a state directory they create none.
/// </summary>
public class ReadOnlyVerbsTests
{
    private static readonly Guid Web = TestDomains.Uuid(61), Gone = TestDomains.Uuid(62), Waiting = TestDomains.Uuid(63);

    private static string Xml(string name, Guid uuid, string nic, int mac) =>
        TestDomains.Owned(name, uuid, [new TestNic(TestDomains.Mac(6, mac), nic)]);

    [Fact]
    public void StatusDoctorAndExplainLeaveEveryFileOfTheStateDirectoryAsItWas()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml("web", Web, "mvtap1", 1)).ExitCode);
        h.WriteStatusFile("web", Xml("web", Web, "mvtap1", 1));
        Assert.Equal(0, h.Run("old", "release", "end", "<domain><name>old</name></domain>", "destroyed").ExitCode);
        File.WriteAllText(Path.Combine(h.Settings.LibvirtConfigDir, "gone.xml"), Xml("gone", Gone, "mvtap2", 2));
        using (ShimContext context = h.OpenContext())
        using (ShimSession session = ShimSession.Open(context))
        {
            session.State.Put(new NameRecord("mvtap2", Holding.Defined, Gone, "gone", Mac(6, 2)));
            session.State.Put(new NameRecord("mvtap3", Holding.Defined, Waiting, "waiting", Mac(6, 3),
                ExpiresAt: context.Now + 600));
            GoneDefinitions.Free(context.Settings, session.Lease, session.State, context.Now);   // gone.xml seen: "definitions" written
            session.Commit();
        }
        File.Delete(Path.Combine(h.Settings.LibvirtConfigDir, "gone.xml"));
        File.WriteAllText(Path.Combine(h.Settings.LibvirtConfigDir, "waiting.xml"), Xml("waiting", Waiting, "mvtap3", 3));
        var before = Snapshot(h.Settings.StateDir);
        Assert.Equal(["definitions", "lock", "releases", "state"], before.Keys.Order(StringComparer.Ordinal));

        HookResult status = HookHarness.Finish(h.StartProcess("status"), "");
        Assert.True(status.ExitCode == 0, status.Stdout + status.Stderr);
        Assert.Contains("mvtap2: definition gone: will be freed at the next allocation or seed", status.Stdout);
        HookResult json = HookHarness.Finish(h.StartProcess("status", "--json"), "");
        Assert.Equal(0, json.ExitCode);
        using (var doc = System.Text.Json.JsonDocument.Parse(json.Stdout))
        {
            Assert.Equal((0, 1, true), (doc.RootElement.GetProperty("problems").GetInt32(), doc.RootElement.GetProperty("heldForGoneDefinitions").GetInt32(),
                doc.RootElement.GetProperty("agrees").GetBoolean()));
        }
        Assert.Equal(0, HookHarness.Finish(h.StartProcess("status", "--format", "prometheus"), "").ExitCode);
        HookResult doctor = HookHarness.Finish(h.StartProcess("doctor"), "");
        Assert.Contains("1 name(s) held for definitions that are gone: mvtap2 (gone)", doctor.Stdout);
        // prepare would drop the gone definition's hold on mvtap2: explain says it would succeed, and changes nothing either.
        HookResult explain = HookHarness.Finish(h.StartProcess("explain", "-"), Xml("next", TestDomains.Uuid(64), "mvtap2", 4));
        Assert.True(explain.ExitCode == 0, explain.Stdout + explain.Stderr);

        Assert.Equal(before, Snapshot(h.Settings.StateDir));

        using (ShimContext context = h.OpenContext())
        using (ShimSession session = ShimSession.Open(context))
        {
            Assert.Equal(["mvtap2"], GoneDefinitions.Free(context.Settings, session.Lease, session.State, context.Now).Select(r => r.Name));
            Assert.Equal(0, session.State.Find("mvtap3")!.ExpiresAt);   // the allocation confirms what status only saw
        }
    }

    [Fact]
    public void WithoutAStateDirectoryTheyCreateNone()
    {
        using var h = HookHarness.Create();
        Assert.False(Directory.Exists(h.Settings.StateDir));

        Assert.Equal(3, HookHarness.Finish(h.StartProcess("status"), "").ExitCode);   // no usable state yet
        HookHarness.Finish(h.StartProcess("doctor"), "");
        HookHarness.Finish(h.StartProcess("explain", "-"), Xml("web", Web, "mvtap1", 1));

        Assert.False(Directory.Exists(h.Settings.StateDir));
    }

    private static Net.MacAddress Mac(int domain, int nic) => Net.MacAddress.TryParse(TestDomains.Mac(domain, nic), out var mac) ? mac : default;

    /// <summary>Each file's bytes, modification and change times (nanoseconds), inode: a rewrite, a touch or a chmod all show.</summary>
    private static Dictionary<string, string> Snapshot(string directory) =>
        Directory.EnumerateFileSystemEntries(directory).ToDictionary(path => Path.GetFileName(path), path =>
        {
            FileFacts facts = Interop.Files.Lstat(path)!.Value;
            string bytes = Convert.ToHexString(File.ReadAllBytes(path));
            return $"{bytes} mtime {File.GetLastWriteTimeUtc(path).Ticks} ctime {facts.ChangedAtNanoseconds} inode {facts.Inode}";
        });
}
