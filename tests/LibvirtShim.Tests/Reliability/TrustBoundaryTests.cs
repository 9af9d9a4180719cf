using System.Runtime.InteropServices;
using System.Text.Json;
using LibvirtShim.Messages;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Reliability;

/// <summary>
/// What a domain's XML can never make the hook do to links it did not create, and what the state directory must be
/// before the hook trusts it (whoever can write it decides which links the hook deletes).
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class TrustBoundaryTests
{
    private static readonly Guest Victim = Guest.Make("victim", 1, 4, firstName: 20);
    private static readonly Guest Attacker = Guest.Make("attacker", 2, 2, firstName: 30);

    /// <summary>
    /// The attacker's release XML hands the hook the names of the victim's links, of a macvtap someone else made on a
    /// managed name (recorded as foreign), of one made on the attacker's own recorded name after its link went, and of
    /// the veth lower device, with and without metadata, as owned NICs and as libvirt's own direct NICs.
    /// </summary>
    [Fact]
    public void AReleaseNamingOtherLinksDeletesRenamesReaddressesAndDownsNoneOfThem()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        Assert.Equal(0, h.Run(Victim.Name, "prepare", "begin", Victim.Xml).ExitCode);
        h.WriteStatusFile(Victim.Name, Victim.Xml);
        h.Ns.Ip("link", "add", "link", "uplink1", "name", "mvtap5", "address", "52:54:00:ee:00:05", "type", "macvtap", "mode", "vepa");
        h.Ns.Ip("link", "set", "mvtap5", "up");
        // The state rebuilt by seeding: mvtap5 is recorded as a foreign link, the victim's links as its own.
        File.Delete(Path.Combine(h.Settings.StateDir, "state"));
        Assert.Equal(0, h.Run(Attacker.Name, "prepare", "begin", Attacker.Xml).ExitCode);
        Assert.Equal(Holding.Foreign, h.ReadState()!.Find("mvtap5")!.Holding);
        // The attacker's second link goes; someone else makes a macvtap under that name, which the attacker's record still holds.
        h.Ns.Ip("link", "del", "mvtap31");
        h.Ns.Ip("link", "add", "link", "uplink0", "name", "mvtap31", "type", "macvtap");
        string before = AllBut(h, Attacker.Uuid);
        var victimRecords = Reliability.RecordsOf(h.ReadState()!, Victim);

        TestNic[] named =
        [
            new(TestDomains.Mac(1, 0), "mvtap20"), new(TestDomains.Mac(1, 1), "mvtap21", "uplink1", "passthru"),
            new("52:54:00:ee:00:05", "mvtap5"), new(TestDomains.Mac(2, 1), "mvtap31"), new("52:54:00:ee:00:99", "uplink0"),
        ];
        string direct = "<interface type='direct'><mac address='52:54:00:ee:01:01'/><source dev='uplink0'/><target dev='mvtap22'/></interface>"
                        + "<interface type='direct'><mac address='52:54:00:ee:01:02'/><source dev='uplink1'/><target dev='uplink1'/></interface>"
                        + "<interface type='ethernet'><mac address='52:54:00:ee:01:03'/><target dev='mvtap23' managed='no'/></interface>";
        foreach (string xml in new[] { TestDomains.Owned(Attacker.Name, Attacker.Uuid, named, direct), Attacker.Xml.Replace("mvtap30", "mvtap20") })
        {
            Assert.Equal(0, h.Run(Attacker.Name, "start", "begin", xml).ExitCode);
            Assert.Equal(0, h.Run(Attacker.Name, "reconnect", "begin", xml).ExitCode);
            HookResult release = h.Run(Attacker.Name, "release", "end", xml);
            Assert.Equal((0, ""), (release.ExitCode, release.Stderr));
        }

        Assert.Equal(before, AllBut(h, Attacker.Uuid));
        Assert.DoesNotContain(h.Ns.Links(), l => l.Alias?.Contains(Attacker.Uuid.ToString()) == true);
        NameState state = h.ReadState()!;
        Assert.Equal(victimRecords, Reliability.RecordsOf(state, Victim));
        Assert.Empty(state.OfDomain(Attacker.Uuid));
        Assert.Contains("left alone (not ours): mvtap31", File.ReadAllText(h.Settings.LogFile));
    }

    /// <summary>The same names at prepare and at arrival: refused or renamed, and nothing of theirs touched.</summary>
    [Fact]
    public void APrepareOrArrivalNamingOtherLinksTouchesNoneOfThem()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        Assert.Equal(0, h.Run(Victim.Name, "prepare", "begin", Victim.Xml).ExitCode);
        h.Ns.Ip("link", "add", "link", "uplink1", "name", "mvtap5", "type", "macvtap");
        string before = AllBut(h, Attacker.Uuid);

        foreach (string name in new[] { "mvtap20", "mvtap5" })
        {
            string xml = TestDomains.Owned(Attacker.Name, Attacker.Uuid, [new(TestDomains.Mac(2, 0), "mvtap30"), new(TestDomains.Mac(2, 1), name)]);
            HookResult prepare = h.Run(Attacker.Name, "prepare", "begin", xml);
            Assert.Equal(1, prepare.ExitCode);
            Assert.Contains($"({name}): name is held by", prepare.Stderr);
            HookResult migrate = h.Run(Attacker.Name, "migrate", "begin", xml);
            Assert.Equal((0, ""), (migrate.ExitCode, migrate.Stderr));
            Assert.DoesNotContain($"'{name}'", migrate.Stdout);
            Assert.Equal(0, h.Run(Attacker.Name, "prepare", "begin", migrate.Stdout).ExitCode);
            Assert.Equal(0, h.Run(Attacker.Name, "release", "end", migrate.Stdout).ExitCode);
            Assert.Equal(before, AllBut(h, Attacker.Uuid));
        }
        Invariants.Hold(h, "after the attempts", [Victim.Uuid, Attacker.Uuid]);
    }

    [Fact]
    public void TheStateDirectoryLockAndStateAreCreatedForRootAloneEvenUnderAPermissiveUmask()
    {
        using var h = HookHarness.Create();
        h.Settings.StateDir = Path.Combine(h.Root, "var", "shim", "state");
        uint previous = Umask(0);
        try
        {
            Assert.Equal(0, h.Run(Victim.Name, "prepare", "begin", Victim.Xml).ExitCode);
        }
        finally
        {
            Umask(previous);
        }

        Assert.Equal((0u, "700", true), Stat(h.Settings.StateDir));
        Assert.Equal((0u, "600", false), Stat(Path.Combine(h.Settings.StateDir, "lock")));
        Assert.Equal((0u, "600", false), Stat(Path.Combine(h.Settings.StateDir, "state")));
        Assert.False(File.Exists(Path.Combine(h.Settings.StateDir, "state.new")));
    }

    public static TheoryData<string, string> UnsafeStatePaths => new()
    {
        { "directory-symlink", "state directory {state} is a symbolic link; refusing to use it" },
        { "directory-not-root", "state directory {state} is owned by uid 65534, not uid 0; refusing to use it" },
        { "directory-group-writable", "state directory {state} is writable by group or others (mode 770); chmod go-w it" },
        { "directory-other-writable", "state directory {state} is writable by group or others (mode 707); chmod go-w it" },
        { "directory-not-a-directory", "state directory {state} is not a directory" },
        { "lock-symlink", "lock file {state}/lock is a symbolic link; refusing to use it" },
        { "lock-not-root", "lock file {state}/lock is owned by uid 65534, not uid 0; refusing to use it" },
        { "lock-other-writable", "lock file {state}/lock is writable by group or others (mode 602); chmod go-w it" },
        { "state-symlink", "state file {state}/state is a symbolic link; refusing to use it" },
        { "state-not-root", "state file {state}/state is owned by uid 65534, not uid 0; refusing to use it" },
        { "state-group-writable", "state file {state}/state is writable by group or others (mode 620); chmod go-w it" },
        { "state-a-directory", "state file {state}/state is not a regular file" },
        { "parent-other-writable", "{parent}, above the state directory, is writable by group or others (mode 777); " +
            "refusing to keep the state under it" },
        { "parent-not-root", "{parent}, above the state directory, is owned by uid 65534; refusing to keep the state under it" },
        { "parent-symlink-to-unsafe", "{elsewhere}, above the state directory, is writable by group or others (mode 777); " +
            "refusing to keep the state under it" },
    };

    /// <summary>
    /// Each unsafe state path is refused with its one line, by a real hook process: prepare fails the start, reconnect
    /// reports and exits 0; no link is created and nothing is written through a link.
    /// </summary>
    [Theory]
    [MemberData(nameof(UnsafeStatePaths))]
    public void AnUnsafeStatePathIsRefusedWithAClearError(string how, string message)
    {
        using var h = HookHarness.Create();
        string parent = Path.Combine(h.Root, "statebase");
        string elsewhere = Path.Combine(h.Root, "elsewhere");
        string state = h.Settings.StateDir = Path.Combine(parent, "shim");
        Assert.Equal(0, h.Run(Victim.Name, "prepare", "begin", Victim.Xml).ExitCode);
        Assert.Equal(0, h.Run(Victim.Name, "release", "end", Victim.Xml).ExitCode);
        string target = MakeUnsafe(how, h, parent, state, elsewhere);
        byte[]? targetBefore = File.Exists(target) ? File.ReadAllBytes(target) : null;
        var linksBefore = h.Ns.Links();

        HookResult prepare = h.RunProcess(Victim.Name, "prepare", "begin", Victim.Xml);
        HookResult reconnect = h.RunProcess(Victim.Name, "reconnect", "begin", Victim.Xml);

        string line = "libvirt-shim: domain 'victim': " +
            $"{message.Replace("{state}", state).Replace("{parent}", parent).Replace("{elsewhere}", elsewhere)}\n";
        Assert.Equal((1, line), (prepare.ExitCode, prepare.Stderr));
        Assert.Equal((0, line), (reconnect.ExitCode, reconnect.Stderr));
        Assert.Equal(linksBefore, h.Ns.Links());
        if (targetBefore is not null) Assert.Equal(targetBefore, File.ReadAllBytes(target));
    }

    /// <summary>A state.new that is a link to another file (left by whoever): removed, never written through.</summary>
    [Theory]
    [InlineData("symlink")]
    [InlineData("hardlink")]
    public void AStateNewThatLinksElsewhereIsNeverWrittenThrough(string kind)
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run(Victim.Name, "prepare", "begin", Victim.Xml).ExitCode);
        string precious = Path.Combine(h.Root, "precious");
        File.WriteAllText(precious, "root's file\n");
        string stateNew = Path.Combine(h.Settings.StateDir, "state.new");
        if (kind == "symlink") File.CreateSymbolicLink(stateNew, precious);
        else Assert.Equal(0, Link(precious, stateNew));

        HookResult result = h.RunProcess(Attacker.Name, "prepare", "begin", Attacker.Xml);

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        Assert.Equal("root's file\n", File.ReadAllText(precious));
        Assert.Equal(2, h.ReadState()!.OfDomain(Attacker.Uuid).Count);
    }

    /// <summary>
    /// A state directory path in another spelling ("/." or "/" at the end, "//", "/./") is checked as the directory it
    /// names: lstat of "shim/." follows the link "shim", so a symbolic link passed the checks when so spelled.
    /// </summary>
    [Theory]
    [InlineData("{state}/.")]
    [InlineData("{state}/")]
    [InlineData("{state}/./")]
    [InlineData("{parent}//shim/.")]
    [InlineData("{parent}/./shim//")]
    public void AStateDirectorySymlinkIsRefusedHoweverThePathIsSpelled(string spelling)
    {
        using var h = HookHarness.Create();
        string parent = Path.Combine(h.Root, "statebase"), state = Path.Combine(parent, "shim"), elsewhere = Path.Combine(h.Root, "elsewhere");
        Directory.CreateDirectory(parent);
        Directory.CreateDirectory(elsewhere); // root's and not writable by others: only the link to it is wrong
        File.CreateSymbolicLink(state, elsewhere);
        h.Settings.StateDir = spelling.Replace("{state}", state).Replace("{parent}", parent);
        var linksBefore = h.Ns.Links();

        HookResult prepare = h.Run(Victim.Name, "prepare", "begin", Victim.Xml);
        HookResult reconnect = h.Run(Victim.Name, "reconnect", "begin", Victim.Xml);

        string line = $"libvirt-shim: domain 'victim': state directory {state} is a symbolic link; refusing to use it\n";
        Assert.Equal((1, line), (prepare.ExitCode, prepare.Stderr));
        Assert.Equal((0, line), (reconnect.ExitCode, reconnect.Stderr));
        Assert.Equal(linksBefore, h.Ns.Links());
        Assert.Empty(Directory.EnumerateFileSystemEntries(elsewhere));
    }

    /// <summary>
    /// ".." climbs out of wherever a symbolic link before it leads, which the walk over the ancestors does not see:
    /// "statebase/link/../shim" is "open/shim" under a directory anyone can write. Refused, whatever it leads to.
    /// </summary>
    [Fact]
    public void AStateDirectoryPathWithDotDotIsRefused()
    {
        using var h = HookHarness.Create();
        string parent = Path.Combine(h.Root, "statebase"), open = Path.Combine(h.Root, "open");
        Directory.CreateDirectory(parent);
        Directory.CreateDirectory(Path.Combine(open, "sub"));
        Directory.CreateDirectory(Path.Combine(open, "shim"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(open, (UnixFileMode)0x1FF);
        File.CreateSymbolicLink(Path.Combine(parent, "link"), Path.Combine(open, "sub"));
        string spelled = Path.Combine(parent, "link") + "/../shim";

        h.Settings.StateDir = spelled;
        HookResult prepare = h.Run(Victim.Name, "prepare", "begin", Victim.Xml);
        Assert.Equal((1, $"libvirt-shim: domain 'victim': setting StateDir='{spelled}' must not contain '..' (name the directory itself)\n"),
            (prepare.ExitCode, prepare.Stderr));
        var e = Assert.Throws<ShimFailure>(() => new StateStore(spelled, TimeSpan.FromSeconds(1)).LockToChange().Dispose());
        Assert.Equal($"state directory {spelled} contains '..'; refusing to use it (name the directory itself)", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(open, "shim")));
    }

    /// <summary>Other spellings of a sound directory work, and the state lands in that directory.</summary>
    [Fact]
    public void OtherSpellingsOfASoundStateDirectoryAreTheDirectory()
    {
        using var h = HookHarness.Create();
        string state = h.Settings.StateDir;
        h.Settings.StateDir = state.Replace("/state", "//./state") + "/./";
        HookResult prepare = h.Run(Victim.Name, "prepare", "begin", Victim.Xml);
        Assert.Equal((0, ""), (prepare.ExitCode, prepare.Stderr));
        Assert.True(File.Exists(Path.Combine(state, "state")));
        Assert.Equal(4, h.ReadState()!.OfDomain(Victim.Uuid).Count);
        Assert.Equal(state, new StateStore(state + "/.", TimeSpan.FromSeconds(5)).Directory);
    }

    private static string MakeUnsafe(string how, HookHarness h, string parent, string state, string elsewhere)
    {
        string lockFile = Path.Combine(state, "lock"), stateFile = Path.Combine(state, "state");
        const UnixFileMode Rwx = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        switch (how)
        {
            case "directory-symlink":
                Directory.Move(state, elsewhere);
                File.CreateSymbolicLink(state, elsewhere);
                return stateFile;
            case "directory-not-root": Chown(state, 65534); return stateFile;
            case "directory-group-writable":
                File.SetUnixFileMode(state,
                Rwx | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute); return stateFile;
            case "directory-other-writable":
                File.SetUnixFileMode(state,
                Rwx | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute); return stateFile;
            case "directory-not-a-directory":
                Directory.Delete(state, recursive: true);
                File.WriteAllText(state, "");
                return state;
            case "lock-symlink":
                File.WriteAllText(Path.Combine(h.Root, "precious"), "x");
                File.Delete(lockFile);
                File.CreateSymbolicLink(lockFile, Path.Combine(h.Root, "precious"));
                return Path.Combine(h.Root, "precious");
            case "lock-not-root": Chown(lockFile, 65534); return stateFile;
            case "lock-other-writable":
                File.SetUnixFileMode(lockFile,
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherWrite); return stateFile;
            case "state-symlink":
                File.Move(stateFile, Path.Combine(h.Root, "real-state"));
                File.CreateSymbolicLink(stateFile, Path.Combine(h.Root, "real-state"));
                return Path.Combine(h.Root, "real-state");
            case "state-not-root": Chown(stateFile, 65534); return stateFile;
            case "state-group-writable":
                File.SetUnixFileMode(stateFile,
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupWrite); return stateFile;
            case "state-a-directory":
                File.Delete(stateFile);
                Directory.CreateDirectory(stateFile);
                return lockFile;
            case "parent-other-writable": File.SetUnixFileMode(parent, (UnixFileMode)0x1FF); return stateFile;
            case "parent-not-root": Chown(parent, 65534); return stateFile;
            case "parent-symlink-to-unsafe":
                Directory.Move(parent, elsewhere);
                File.CreateSymbolicLink(parent, elsewhere);
                File.SetUnixFileMode(elsewhere, (UnixFileMode)0x1FF);
                return Path.Combine(elsewhere, "shim", "state");
            default: throw new ArgumentException(how);
        }
    }

    /// <summary>`ip -d -j link` of every link but the given domain's, attribute for attribute.</summary>
    /// <summary>
    /// Every link but <paramref name="domain"/>'s, as `ip -d -j` shows it, less a lower device's "allmulti" count: the
    /// domain's own allmulticast links hold one each, which their legitimate deletion gives back.
    /// </summary>
    private static string AllBut(HookHarness h, Guid domain)
    {
        using JsonDocument document = JsonDocument.Parse(h.Ns.Ip("-d", "-j", "link", "show"));
        return string.Join("\n", document.RootElement.EnumerateArray()
            .Where(l => IpLink.From(l).Alias?.Contains(domain.ToString("D"), StringComparison.Ordinal) != true)
            .Select(l =>
            {
                var link = System.Text.Json.Nodes.JsonNode.Parse(l.GetRawText())!.AsObject();
                link.Remove("allmulti");
                return link.ToJsonString();
            }));
    }

    private static (uint Uid, string Mode, bool IsDirectory) Stat(string path)
    {
        FileFacts found = Interop.Files.Lstat(path)!.Value;
        return (found.Uid, Convert.ToString(found.Permissions, 8), found.IsDirectory);
    }

    private static void Chown(string path, int uid) => Assert.Equal(0, LChown(path, uid, uid));

    [DllImport("libc", EntryPoint = "lchown", SetLastError = true)]
    private static extern int LChown(string path, int owner, int group);

    [DllImport("libc", EntryPoint = "umask")]
    private static extern uint Umask(uint mask);

    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link(string existing, string created);
}
