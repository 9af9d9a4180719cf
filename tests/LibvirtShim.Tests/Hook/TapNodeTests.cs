using System.Globalization;
using LibvirtShim.Net;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Hook;

/// <summary>
/// The node libvirt opens for an owned NIC, /dev/tapIFINDEX, names that NIC's macvtap: made where missing (no devtmpfs,
/// no udev: the harness's /dev is an empty tmpfs), replaced where it names another device (another namespace's macvtap
/// of the same ifindex), refused in one line where neither can be done; and taken back with the link when the hook
/// made it. Every test runs in its own network namespace and its own /dev (<see cref="DeviceSandbox"/>), never the host's.
/// </summary>
public class TapNodeTests
{
    private static readonly Guid Web = TestDomains.Uuid(75);
    private static readonly string Xml = TestDomains.Owned("web", Web, TestDomains.Nics(75, 2, firstName: 1));

    private static FileFacts Node(HookHarness h, string link) => Interop.Files.Lstat(h.Devices.Taps.NodeOf(h.Ns.Link(link).Index))
        ?? throw new Xunit.Sdk.XunitException($"no node for {link}");

    /// <summary>The device sysfs of the namespace gives the link, read by the test itself.</summary>
    private static DeviceNumber DeviceOf(HookHarness h, string link)
    {
        int index = h.Ns.Link(link).Index;
        string[] parts = File.ReadAllText($"{h.Devices.Taps.SysfsRoot}/class/net/{link}/macvtap/tap{index}/dev").Trim().Split(':');
        return new DeviceNumber(uint.Parse(parts[0], CultureInfo.InvariantCulture), uint.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    [Fact]
    public void AMissingNodeIsMadeAsDevtmpfsWouldMakeItAndTakenBackWithTheLink()
    {
        using var h = HookHarness.Create();

        HookResult prepare = h.Run("web", "prepare", "begin", Xml);

        Assert.Equal((0, ""), (prepare.ExitCode, prepare.Stderr));
        foreach (string link in new[] { "mvtap1", "mvtap2" })
        {
            FileFacts node = Node(h, link);
            Assert.True(node.IsCharacterDevice);
            Assert.Equal(DeviceOf(h, link), node.RawDevice);
            Assert.Equal((0u, 0u, 0x180), (node.Uid, node.Gid, node.Permissions));
        }
        Assert.Contains(File.ReadAllLines(h.Settings.LogFile),
            l => l.Contains("Made 2 tap nodes that were missing (no devtmpfs or udev made them): ", StringComparison.Ordinal));
        string[] nodes = [.. Directory.EnumerateFiles(h.Devices.Dev, "tap*")];

        Assert.Equal(0, h.Run("web", "release", "end", Xml).ExitCode);

        Assert.Equal(2, nodes.Length);
        Assert.All(nodes, n => Assert.False(File.Exists(n), $"{n} is left behind"));
    }

    /// <summary>
    /// Nodes of another namespace's macvtaps sit on the ifindexes this namespace hands out next: the one of the new link is
    /// replaced, the others stay, and the link's own queue is reachable through it.
    /// </summary>
    [Fact]
    public void ANodeNamingAnotherDeviceIsReplacedAndOthersAreLeftAlone()
    {
        using var h = HookHarness.Create();
        int next = h.Ns.Links().Max(l => l.Index) + 1;
        var foreign = new DeviceNumber(1, 3);
        for (int index = next; index < next + 16; index++) Interop.Files.MakeCharacterDevice(h.Devices.Taps.NodeOf(index), foreign);

        HookResult prepare = h.Run("web", "prepare", "begin", Xml);

        Assert.Equal((0, ""), (prepare.ExitCode, prepare.Stderr));
        var ours = new[] { h.Ns.Link("mvtap1").Index, h.Ns.Link("mvtap2").Index };
        Assert.All(ours, i => Assert.InRange(i, next, next + 15));
        Assert.Equal(DeviceOf(h, "mvtap1"), Node(h, "mvtap1").RawDevice);
        Assert.Equal(DeviceOf(h, "mvtap2"), Node(h, "mvtap2").RawDevice);
        for (int index = next; index < next + 16; index++)
        {
            if (!ours.Contains(index)) Assert.Equal(foreign, Interop.Files.Lstat(h.Devices.Taps.NodeOf(index))!.Value.RawDevice);
        }
        Assert.Contains(File.ReadAllLines(h.Settings.LogFile), l => l.Contains("named another device", StringComparison.Ordinal));
        using TapQueue queue = TapQueue.Open(h.Devices.Taps.NodeOf(ours[0]));
        TapQueue.Send(h.Ns, "uplink0p", new MacAddress(0x02_00_00_00_75_01), 3);
        Assert.Equal(3, queue.From(new MacAddress(0x02_00_00_00_75_01), TimeSpan.FromSeconds(2)));
    }

    /// <summary>A node that names another device by the time the link goes is someone else's now: release leaves it.</summary>
    [Fact]
    public void ReleaseLeavesANodeThatNamesAnotherDeviceByThen()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        string node = h.Devices.Taps.NodeOf(h.Ns.Link("mvtap1").Index);
        File.Delete(node);
        Interop.Files.MakeCharacterDevice(node, new DeviceNumber(1, 3));

        Assert.Equal(0, h.Run("web", "release", "end", Xml).ExitCode);

        Assert.Equal(new DeviceNumber(1, 3), Interop.Files.Lstat(node)!.Value.RawDevice);
        Assert.Single(Directory.EnumerateFiles(h.Devices.Dev, "tap*"));
    }

    /// <summary>Where the node cannot be made (a directory in its place), prepare fails in one line and leaves no link and no node.</summary>
    [Fact]
    public void ANodeThatCannotBeMadeFailsThePrepareAndLeavesNothing()
    {
        using var h = HookHarness.Create();
        int next = h.Ns.Links().Max(l => l.Index) + 1;
        Directory.CreateDirectory(h.Devices.Taps.NodeOf(next + 1));

        HookResult prepare = h.Run("web", "prepare", "begin", Xml);

        Assert.Equal(1, prepare.ExitCode);
        Assert.Matches(@"^libvirt-shim: domain 'web': NIC 52:54:00:00:4b:0[01] \(mvtap[12]\): cannot make /proc/\d+/root/dev/tap\d+, " +
            @"the node libvirt opens, name its device \d+:\d+: .*directory.*\n$", prepare.Stderr);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
        Assert.Empty(Directory.EnumerateFiles(h.Devices.Dev, "tap*"));
        Assert.Empty(h.ReadState()!.OfDomain(Web));
    }

    /// <summary>A sysfs that does not show the link (not this namespace's) cannot say which device the node must name: refused.</summary>
    [Fact]
    public void ASysfsThatCannotTellFailsThePrepare()
    {
        using var h = HookHarness.Create();
        string emptySys = Directory.CreateDirectory(Path.Combine(h.Root, "sys")).FullName;
        var host = h.Host with { Taps = h.Devices.Taps with { SysfsRoot = emptySys } };
        var stderr = new StringWriter();

        int exit = new LibvirtShim.Hook.HookRunner(host).Run(new LibvirtShim.Hook.HookCall("web", "prepare", "begin", "-"),
            new MemoryStream(System.Text.Encoding.UTF8.GetBytes(Xml)), new StringWriter(), stderr);

        Assert.Equal(1, exit);
        Assert.Matches($@"^libvirt-shim: domain 'web': NIC \S+ \(mvtap[12]\): cannot tell which device \S+/dev/tap\d+ must name: " +
            $@"{System.Text.RegularExpressions.Regex.Escape(emptySys)}/class/net/mvtap[12]/macvtap/tap\d+/dev: .*\n$", stderr.ToString());
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
    }

    /// <summary>
    /// The real executable, as libvirt runs it, in the namespace (fresh sysfs) with a /dev of its own: the node is made, then
    /// taken back.
    /// </summary>
    [Fact]
    public void TheHookProcessMakesTheNodeInItsOwnDevAndTakesItBack()
    {
        using var h = HookHarness.Create();

        HookResult prepare = h.RunProcess("web", "prepare", "begin", Xml);

        Assert.Equal((0, ""), (prepare.ExitCode, prepare.Stderr));
        Assert.Equal(DeviceOf(h, "mvtap1"), Node(h, "mvtap1").RawDevice);
        Assert.Equal(DeviceOf(h, "mvtap2"), Node(h, "mvtap2").RawDevice);
        Assert.Equal(0, h.RunProcess("web", "release", "end", Xml).ExitCode);
        Assert.Empty(Directory.EnumerateFiles(h.Devices.Dev, "tap*"));
    }

    /// <summary>Seeding deletes the links of a domain that no longer runs, and the nodes the hook made for them.</summary>
    [Fact]
    public void SeedingTakesBackTheNodesOfTheLeakedLinksItDeletes()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        Assert.Equal(2, Directory.EnumerateFiles(h.Devices.Dev, "tap*").Count());

        using (LibvirtShim.Session.ShimContext context = h.OpenContext())
        using (var session = LibvirtShim.Session.ShimSession.Open(context))
        {
            // Records lost, every other fact at hand: the links are leaked.
            foreach (string name in new[] { "mvtap1", "mvtap2" }) session.State.Remove(name);
            session.Reseed(session.State);
        }

        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
        Assert.Empty(Directory.EnumerateFiles(h.Devices.Dev, "tap*"));
    }
}
