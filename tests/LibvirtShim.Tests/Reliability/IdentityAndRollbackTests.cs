using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Reliability;

/// <summary>
/// The marks' identity survives a host rename, and links marked under an earlier identity stay the hook's; a prepare
/// undoes everything it did whatever fails (the kernel, the state write, odd input), and no input gives an internal error.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class IdentityAndRollbackTests(ITestOutputHelper output)
{
    private static readonly Guest Renamed = Guest.Make("renamed", 71, 3, firstName: 10);

    [Fact]
    public void TheDefaultInstanceIsTheMachineIdAndTheHostNameWithoutOne()
    {
        Assert.Equal("3d1219c7c4c5404aaa1f6d2a48adfda4", LinkMarker.DefaultInstance("3d1219c7c4c5404aaa1f6d2a48adfda4\n", "host-a"));
        Assert.Equal("host-a", LinkMarker.DefaultInstance(null, "host-a"));
        Assert.Equal("host-a", LinkMarker.DefaultInstance("", "host-a"));
        Assert.Equal("host-a", LinkMarker.DefaultInstance("uninitialized\n", "host-a"));
    }

    /// <summary>The host renamed between prepare and release (each hook process in a UTS namespace with a host name of its own): release
    /// deletes every link.</summary>
    [Fact]
    public void RenamingTheHostBetweenPrepareAndReleaseOrphansNothing()
    {
        Assert.True(File.Exists("/etc/machine-id"), "this host has no /etc/machine-id");
        using var h = HookHarness.Create();
        h.Wrapper = UnderHostName("alpha-host");
        HookResult prepared = h.RunProcess(Renamed.Name, "prepare", "begin", Renamed.Xml);
        Assert.True(prepared.ExitCode == 0, prepared.Stderr);
        Assert.Equal(3, Reliability.LinksOf(h, Renamed).Count);

        h.Wrapper = UnderHostName("beta-host");
        HookResult released = h.RunProcess(Renamed.Name, "release", "end", Renamed.Xml);

        Assert.Equal((0, ""), (released.ExitCode, released.Stderr));
        Assert.Empty(Reliability.LinksOf(h, Renamed));
        Invariants.NothingLeftOf(h, Renamed.Uuid, "release after the rename");
    }

    /// <summary>Links an earlier version marked with the host name are the hook's for release and seeding.</summary>
    [Fact]
    public void LinksMarkedWithTheHostNameAreStillRecognised()
    {
        using var h = HookHarness.Create();
        h.Settings.Instance = Environment.MachineName;
        Assert.Equal(0, h.Run(Renamed.Name, "prepare", "begin", Renamed.Xml).ExitCode);
        Assert.All(Reliability.LinksOf(h, Renamed), l => Assert.EndsWith("@" + Environment.MachineName, l.Alias));
        h.Settings.Instance = "";
        h.WriteStatusFile(Renamed.Name, Renamed.Xml);
        File.Delete(Path.Combine(h.Settings.StateDir, "state"));

        Assert.Equal(0, h.Run(Renamed.Name, "started", "begin", Renamed.Xml.Replace("</devices>",
            "<interface type='direct'><mac address='52:54:00:00:71:09'/><source dev='uplink0' mode='vepa'/><target dev='macvtap1'/>" +
                "</interface></devices>")).ExitCode);
        Assert.Equal(3, h.ReadState()!.OfDomain(Renamed.Uuid).Count(r => r.Holding == Holding.Created));
        h.RemoveStatusFile(Renamed.Name);
        Assert.Equal(0, h.Run(Renamed.Name, "release", "end", Renamed.Xml).ExitCode);

        Assert.Empty(Reliability.LinksOf(h, Renamed));
        Assert.Empty(h.ReadState()!.OfDomain(Renamed.Uuid));
    }

    /// <summary>A full disk: the state cannot be written after the links exist. The call fails in one line and leaves nothing; the other
    /// guest is untouched.</summary>
    [Fact]
    public void APrepareThatCannotWriteItsStateLeavesNothing()
    {
        using var h = HookHarness.Create();
        Directory.CreateDirectory(h.Settings.StateDir);
        Tool.Run("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", h.Settings.StateDir);
        try
        {
            var bystander = Guest.Make("bystander", 72, 2, firstName: 20);
            Assert.Equal(0, h.Run(bystander.Name, "prepare", "begin", bystander.Xml).ExitCode);
            var before = Bystander.Snapshot(h, bystander);
            FillUp(Path.Combine(h.Settings.StateDir, "filler"));

            var big = Guest.Make("big", 73, 40, firstName: 100);
            HookResult result = h.Run(big.Name, "prepare", "begin", big.Xml);

            Assert.Equal(1, result.ExitCode);
            Assert.StartsWith("libvirt-shim: domain 'big': ", result.Stderr);
            Assert.Contains("No space left on device", result.Stderr);
            HookProcesses.AssertOneLineWithoutStackTrace(result.Stderr, "prepare on a full disk");
            Assert.Empty(Reliability.LinksOf(h, big));
            Invariants.NothingLeftOf(h, big.Uuid, "the failed prepare");
            Bystander.Unchanged(Look.Take(h), bystander, before, "the failed prepare");
        }
        finally
        {
            Tool.Run("umount", "-l", h.Settings.StateDir);
        }
    }

    /// <summary>
    /// Domain names and UUIDs of every shape libvirt may send (long, multi-byte, with XML specials, UUIDs without dashes,
    /// upper case, in braces) through every operation: never an internal error, and a release leaves nothing.
    /// </summary>
    [Fact]
    public void NoDomainNameOrUuidGivesAnInternalError()
    {
        using var h = HookHarness.Create();
        var random = new Random(Reliability.Seed(output, "odd domains"));
        string[] names = [new string('x', 70_000), new string('\u00e9', 40_000), string.Concat(Enumerable.Repeat("\ud83d\ude00", 20_000)),
            new string('n', 300),
            "a/b", "..", ".", "-", "a'b&amp;c&lt;d", "]]&gt;", "tab\there", "nl&#10;in&#13;name", "a\u2003", "a&#x85;", "x"];
        string[] uuids = ["00000000-0000-4000-8000-0000000000e1", "6D1C1A5E-1F6C-4A0E-9B55-3C2F0E3A7A11", "6d1c1a5e1f6c4a0e9b553c2f0e3a7a12",
            "{6d1c1a5e-1f6c-4a0e-9b55-3c2f0e3a7a13}", " 6d1c1a5e-1f6c-4a0e-9b55-3c2f0e3a7a14 ", "ffffffff-ffff-ffff-ffff-ffffffffffff"];
        var failures = new List<string>();
        foreach (string name in names)
        {
            string uuid = uuids[random.Next(uuids.Length)];
            string xml = TestDomains.Owned("NAME", Guid.Empty, [new("52:54:00:00:e1:01", "mvtap5"), new("52:54:00:00:e1:02", "mvtap6")],
                    "<interface type='direct'><mac address='52:54:00:00:e1:09'/><source dev='uplink0' mode='vepa'/><target dev='macvtap3'/>" +
                        "</interface>")
                .Replace("<name>NAME</name>", $"<name>{name}</name>").Replace(Guid.Empty.ToString(), uuid);
            string argvName = name.Length > 200 ? name[..200] : name;
            foreach (string operation in new[] { "migrate", "prepare", "started", "reconnect", "release" })
            {
                HookResult result = h.Run(argvName, operation, operation == "release" ? "end" : "begin", xml);
                string shown = $"name of {name.Length} chars '{name[..Math.Min(20, name.Length)]}', uuid '{uuid}', {operation}: " +
                    $"exit {result.ExitCode}: {result.Stderr}";
                if (result.Stderr.Contains("internal error", StringComparison.Ordinal) || result.Stderr.Contains("   at ", StringComparison.Ordinal))
                    failures.Add(shown);
                else if (operation is "prepare" or "migrate" && result.ExitCode != 0)
                    failures.Add(shown);
            }
            Look look = Look.Take(h);
            if (look.State is null) failures.Add($"name of {name.Length} chars: the state does not load");
            else if (look.State.Count > 0 || look.Links.Any(Invariants.IsMarked))
                failures.Add($"name of {name.Length} chars, uuid '{uuid}': left after release: " +
                    $"{string.Join(", ", look.State.Records.Select(r => r.Name))} " +
                    $"{string.Join(", ", look.Links.Where(Invariants.IsMarked).Select(l => l.Name))}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static string[] UnderHostName(string hostName) => ["unshare", "--uts", "sh", "-c", "hostname \"$0\" && exec \"$@\"", hostName];

    internal static void FillUp(string path)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
        byte[] block = new byte[4096];
        try
        {
            while (true) file.Write(block);
        }
        catch (IOException)
        {
        }
    }
}
