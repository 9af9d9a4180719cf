using LibvirtShim.State;
using LibvirtShim.Tests.Operator;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Lifecycle;

/// <summary>The release history file: one line per release, the newest per domain read back, bounded by compaction.</summary>
public class ReleaseHistoryTests
{
    private static string StateDir(TempTree t) => Directory.CreateDirectory(t.Path("state")).FullName;

    [Fact]
    public void TheNewestReleaseOfEachDomainComesBackNewestFirst()
    {
        using var t = new TempTree();
        string dir = StateDir(t);
        Guid web = TestDomains.Uuid(1), db = TestDomains.Uuid(2);
        StateLeases.Record(dir, new ReleaseEntry(100, web, "web", "shutdown"));
        StateLeases.Record(dir, new ReleaseEntry(200, db, "db", "from snapshot"));
        StateLeases.Record(dir, new ReleaseEntry(300, web, "web", "destroyed"));
        StateLeases.Record(dir, new ReleaseEntry(300, null, "plain", "-"));

        List<ReleaseEntry> last = StateLeases.Releases(dir);

        Assert.Equal(
            [new ReleaseEntry(300, null, "plain", "-"), new ReleaseEntry(300, web, "web", "destroyed"),
                new ReleaseEntry(200, db, "db", "from snapshot")],
            last);
    }

    [Fact]
    public void ADomainIsItsUuidSoARenameKeepsOneEntryAndAReusedNameAnother()
    {
        Guid first = TestDomains.Uuid(1), second = TestDomains.Uuid(2);
        List<ReleaseEntry> last = ReleaseHistory.Latest([
            new(1, first, "web", "shutdown"), new(2, first, "web-renamed", "crashed"), new(3, second, "web", "destroyed")]);
        Assert.Equal([new ReleaseEntry(3, second, "web", "destroyed"), new ReleaseEntry(2, first, "web-renamed", "crashed")], last);
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("12\tnot-a-uuid\tweb\tdestroyed")]
    [InlineData("x\t-\tweb\tdestroyed")]
    [InlineData("12\t-\tweb")]
    [InlineData("12\t-\tweb\tdestroyed\textra")]
    public void LinesThatAreNotEntriesAreSkipped(string line) => Assert.Null(ReleaseHistory.Parse(line));

    [Fact]
    public void TabsNewlinesAndLengthAreBoundedSoEveryEntryIsOneLine()
    {
        string line = ReleaseHistory.Format(new ReleaseEntry(5, null, "we\tb", new string('x', 500) + "\n"));
        Assert.Equal(1, line.Count(c => c == '\n'));
        ReleaseEntry back = ReleaseHistory.Parse(line.TrimEnd('\n'))!;
        Assert.Equal("we\tb", back.Domain);
        Assert.Equal(128, back.Reason.Length);
        Assert.EndsWith("...", back.Reason);
    }

    [Fact]
    public void TheFileStaysBoundedAndKeepsTheNewestDomains()
    {
        using var t = new TempTree();
        string dir = StateDir(t);
        int domains = ReleaseHistory.KeptDomains * 8;
        for (int i = 0; i < domains; i++)
            StateLeases.Record(dir, new ReleaseEntry(1000 + i, TestDomains.Uuid(i), $"guest-{i:d4}", i % 2 == 0 ? "destroyed" : "from snapshot"));

        long size = new FileInfo(StateLeases.PathOf(dir, StateFile.Releases)).Length;
        Assert.True(size <= ReleaseHistory.CompactAtBytes, $"{size} bytes");
        List<ReleaseEntry> last = StateLeases.Releases(dir);
        Assert.InRange(last.Count, ReleaseHistory.KeptDomains, domains - 1);
        Assert.Equal($"guest-{domains - 1:d4}", last[0].Domain);
        Assert.Equal(Enumerable.Range(0, last.Count).Select(i => $"guest-{domains - 1 - i:d4}"), last.Select(e => e.Domain));
    }

    [Fact]
    public void ASymbolicLinkInPlaceOfTheFileIsRefused()
    {
        using var t = new TempTree();
        string dir = StateDir(t);
        string elsewhere = t.Write("elsewhere", "");
        File.CreateSymbolicLink(StateLeases.PathOf(dir, StateFile.Releases), elsewhere);
        Assert.ThrowsAny<Exception>(() => StateLeases.Record(dir, new ReleaseEntry(1, null, "web", "destroyed")));
        Assert.Equal("", File.ReadAllText(elsewhere));
        Assert.Empty(StateLeases.Releases(dir));
    }
}
