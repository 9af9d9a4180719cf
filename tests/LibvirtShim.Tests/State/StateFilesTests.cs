using System.Runtime.InteropServices;
using System.Text;
using LibvirtShim.Messages;
using LibvirtShim.State;
using LibvirtShim.Tests.Operator;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.State;

/// <summary>
/// Every file of the state directory goes through one reader and one writer: never through a symbolic link, only a
/// regular file owned by root and writable by nobody else, created 0600, replaced atomically. Each property, for each file.
/// </summary>
public sealed partial class StateFilesTests : IDisposable
{
    private readonly TempTree _tree = new("shim-statefiles-");
    private readonly string _dir;

    public StateFilesTests()
    {
        _dir = _tree.Path("state");
        Directory.CreateDirectory(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public void Dispose() => _tree.Dispose();

    public static TheoryData<string> Files => new() { "state", "releases", "definitions" };

    private static StateFile Named(string name) => name switch
    {
        "state" => StateFile.State,
        "releases" => StateFile.Releases,
        "definitions" => StateFile.Definitions,
        _ => throw new ArgumentException(name),
    };

    private string PathOf(string name) => Path.Combine(_dir, name);

    private StateLease Change() => StateLeases.ToChange(_dir);

    /// <summary>Reads, replaces and appends, each expected to be refused with <paramref name="message"/>; returns nothing.</summary>
    private void AssertEveryAccessRefused(StateFile file, string message)
    {
        using StateLease lease = Change();
        ShimFailure read = Assert.Throws<ShimFailure>(() => lease.Read(file, 1024));
        ShimFailure replace = Assert.Throws<ShimFailure>(() => lease.Replace(file, "new\n"u8));
        ShimFailure append = Assert.Throws<ShimFailure>(() => lease.Append(file, "new\n"u8));
        Assert.All([read, replace, append], e => Assert.Equal(message, e.Message));
        Assert.False(File.Exists(PathOf(file.TemporaryName)), "a refused replacement left its temporary file");
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void ASymbolicLinkInPlaceOfTheFileIsRefusedAndNothingIsWrittenThroughIt(string name)
    {
        StateFile file = Named(name);
        string elsewhere = _tree.Write("elsewhere", "root's file\n");
        File.CreateSymbolicLink(PathOf(name), elsewhere);

        AssertEveryAccessRefused(file, $"{file.What} {PathOf(name)} is a symbolic link; refusing to use it");

        Assert.Equal("root's file\n", File.ReadAllText(elsewhere));
        Assert.True(new FileInfo(PathOf(name)).LinkTarget is not null);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void AFifoInPlaceOfTheFileIsRefusedWithoutWaitingForAWriter(string name)
    {
        StateFile file = Named(name);
        SpecialFiles.Fifo(PathOf(name));

        Bounded.Run(() =>
        {
            AssertEveryAccessRefused(file, $"{file.What} {PathOf(name)} is not a regular file");
            return 0;
        }, TimeSpan.FromSeconds(20), $"reading and writing a FIFO as the {name} file");
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void AFileOwnedByAnotherUserIsRefused(string name)
    {
        StateFile file = Named(name);
        File.WriteAllText(PathOf(name), "someone's\n");
        File.SetUnixFileMode(PathOf(name), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Equal(0, LChown(PathOf(name), 65534, 65534));

        AssertEveryAccessRefused(file, $"{file.What} {PathOf(name)} is owned by uid 65534, not uid 0; refusing to use it");
        Assert.Equal("someone's\n", File.ReadAllText(PathOf(name)));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void AFileOthersCanWriteIsRefused(string name)
    {
        StateFile file = Named(name);
        File.WriteAllText(PathOf(name), "old\n");
        File.SetUnixFileMode(PathOf(name), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupWrite);

        AssertEveryAccessRefused(file, $"{file.What} {PathOf(name)} is writable by group or others (mode 620); chmod go-w it");
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void AFileIsCreatedOwnerOnlyAndReplacedWholeOverAnyLeftoverTemporaryFile(string name)
    {
        StateFile file = Named(name);
        string precious = _tree.Write("precious", "root's file\n");
        File.CreateSymbolicLink(PathOf(file.TemporaryName), precious);
        using StateLease lease = Change();

        Assert.False(lease.Read(file, 1024).Exists);
        lease.Replace(file, "first\n"u8);
        Assert.Equal("first\n", Encoding.UTF8.GetString(lease.Read(file, 1024).Bytes!));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(PathOf(name)));
        Assert.Equal("root's file\n", File.ReadAllText(precious));

        Assert.Equal(13, lease.Append(file, "second\n"u8));
        Assert.Equal("first\nsecond\n", File.ReadAllText(PathOf(name)));
        Assert.False(File.Exists(PathOf(file.TemporaryName)));

        StateFileContent large = lease.Read(file, 4);
        Assert.True(large.IsTooLarge && large.Length == 13);
    }

    [Fact]
    public void AnAppendedFileIsCreatedOwnerOnly()
    {
        using StateLease lease = Change();
        lease.Append(StateFile.Releases, "one\n"u8);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(PathOf("releases")));
    }

    /// <summary>
    /// A reader creates nothing: no state directory, no lock file; what is there is read all the same, under a shared
    /// lock that a writer's exclusive one keeps it waiting for (bounded).
    /// </summary>
    [Fact]
    public void TheLockToReadCreatesNothingAndWaitsOnlyForAWriter()
    {
        string missing = _tree.Path("missing/state");
        using (StateReadLease nothing = StateLeases.ToRead(missing))
            Assert.Equal("no state file yet", nothing.Load(new NameScheme("mvtap", 8)).Problem);
        Assert.False(Directory.Exists(_tree.Path("missing")));

        using (StateReadLease noLock = StateLeases.ToRead(_dir))
            Assert.False(noLock.Read(StateFile.Releases, 1024).Exists);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir));

        var store = new StateStore(_dir, TimeSpan.FromSeconds(1));
        store.LockToChange().Dispose();
        using (store.LockToRead())
        using (StateReadLease second = store.LockToRead())
            Assert.NotNull(second);   // readers share the lock once it exists
        using StateLease writer = store.LockToChange();
        ShimFailure waited = Assert.Throws<ShimFailure>(() => store.LockToRead().Dispose());
        Assert.StartsWith($"timed out after 1 s waiting for the state lock {_dir}/lock", waited.Message);
    }

    /// <summary>
    /// A writer killed in the middle of a replacement (at the write of the temporary file, or after it, before the rename)
    /// leaves the old content, which the next call reads; the next replacement goes over the leftover. Each file is
    /// written by a real process of the hook executable, killed by strace at that system call.
    /// </summary>
    [Theory]
    [InlineData("state", "pwrite64")]
    [InlineData("state", "fsync")]
    [InlineData("definitions", "pwrite64")]
    [InlineData("definitions", "fsync")]
    public void AWriterKilledMidReplacementLeavesTheOldContent(string name, string call)
    {
        Requires.Command("strace");
        using var h = HookHarness.Create();
        Guid web = TestDomains.Uuid(81);
        string definition = Path.Combine(h.Settings.LibvirtConfigDir, "web.xml");
        File.WriteAllText(definition, TestDomains.Owned("web", web, [new TestNic(TestDomains.Mac(8, 1), "mvtap3")]));
        HookResult first = HookHarness.Finish(h.StartProcess("seed"), "");
        Assert.True(first.ExitCode == 0, first.Stderr);
        string path = Path.Combine(h.Settings.StateDir, name);
        byte[] before = File.ReadAllBytes(path);
        // The next seed changes both files: the definition now names another name (parsed again) and holds it.
        File.WriteAllText(definition, TestDomains.Owned("web", web, [new TestNic(TestDomains.Mac(8, 1), "mvtap4")]));
        int when = name == "state" ? 2 : 1;   // seed replaces the definitions file first (one write, one fsync), then the state

        h.Wrapper = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", $"trace={call}", "-e", $"inject={call}:signal=KILL:when={when}"];
        HookResult killed = HookHarness.Finish(h.StartProcess("seed"), "");
        h.Wrapper = [];

        Assert.NotEqual(0, killed.ExitCode);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.True(File.Exists(path + ".new"), $"no leftover {name}.new: the kill did not come mid-replacement");
        Assert.Equal("mvtap3", Assert.Single(h.ReadState()!.HeldAs(Holding.Defined)).Name);

        HookResult again = HookHarness.Finish(h.StartProcess("seed"), "");
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Equal("mvtap4", Assert.Single(h.ReadState()!.HeldAs(Holding.Defined)).Name);
        Assert.False(File.Exists(path + ".new"));
        Assert.NotEqual(before, File.ReadAllBytes(path));
    }

    /// <summary>An append cut short (a full disk) costs its own line only: the lines before it and the next one read whole.</summary>
    [Fact]
    public void AnAppendCutShortCostsOnlyItsOwnLine()
    {
        StateLeases.Record(_dir, new ReleaseEntry(100, TestDomains.Uuid(1), "web", "shutdown"));
        File.AppendAllText(PathOf("releases"), "\n200\t00000000-0000-4000-80");
        StateLeases.Record(_dir, new ReleaseEntry(300, null, "plain", "destroyed"));

        Assert.Equal([new ReleaseEntry(300, null, "plain", "destroyed"), new ReleaseEntry(100, TestDomains.Uuid(1), "web", "shutdown")],
            StateLeases.Releases(_dir));
    }

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LChown(string path, int owner, int group);
}
