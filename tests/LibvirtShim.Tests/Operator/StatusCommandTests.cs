using System.Text.Json;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>libvirt-shim status as a process inside a test namespace: tables per lower device, JSON, exit status.</summary>
public class StatusCommandTests
{
    private static readonly Guid Web = TestDomains.Uuid(41);

    private static string Xml => TestDomains.Owned("web", Web,
        [new("52:54:00:aa:41:01", "mvtap1", "uplink0"), new("52:54:00:aa:41:02", "mvtap2", "uplink1", "vepa")]);

    [Fact]
    public void ATablePerLowerDeviceAndAgreementWhenTheGuestRuns()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        h.WriteStatusFile("web", Xml);

        HookResult r = HookHarness.Finish(h.StartProcess("status"), "");

        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        int uplink0 = h.Ns.Link("uplink0").Index;
        Assert.Contains($"lower device uplink0 (ifindex {uplink0}, up):", r.Stdout);
        Assert.Contains("lower device uplink1 (ifindex", r.Stdout);
        string row = r.Stdout.Split('\n').Single(l => l.TrimStart().StartsWith("mvtap2 ", StringComparison.Ordinal));
        Assert.Contains("created", row);
        Assert.Contains("web", row);
        Assert.Contains(Web.ToString("N")[..8], row);
        Assert.Contains("52:54:00:aa:41:02", row);
        Assert.Contains("vepa", row);
        Assert.Contains($"up #{h.Ns.Link("mvtap2").Index}", row);
        Assert.Contains("state and kernel agree", r.Stdout);
    }

    [Fact]
    public void DisagreementsComeWithWhatToDoAndExitStatus3()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        h.WriteStatusFile("web", Xml);
        h.Ns.Ip("link", "del", "mvtap1");
        h.Ns.AddVeth("mvtap9", "mvtap9p");   // on a managed name, recorded by nobody

        HookResult r = HookHarness.Finish(h.StartProcess("status"), "");

        Assert.True(r.ExitCode == 3, r.Stdout + r.Stderr);
        Assert.Contains("1 disagreement(s) between state and kernel; what to do:", r.Stdout);
        Assert.Contains("mvtap1: link lost while the guest runs: 'libvirt-shim repair web' makes it again", r.Stdout);
        Assert.Contains("links on mvtapN names that no record holds", r.Stdout);
        Assert.Contains("mvtap9", r.Stdout);

        HookResult json = HookHarness.Finish(h.StartProcess("status", "--json"), "");
        Assert.Equal(3, json.ExitCode);
        using JsonDocument doc = JsonDocument.Parse(json.Stdout);
        JsonElement root = doc.RootElement;
        Assert.True(root.GetProperty("stateUsable").GetBoolean());
        Assert.Equal(1, root.GetProperty("problems").GetInt32());
        JsonElement missing = root.GetProperty("names").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "mvtap1");
        Assert.Equal(("created", "uplink0", "web", Web.ToString("D"), "absent", "link lost while the guest runs"),
            (missing.GetProperty("heldAs").GetString(), missing.GetProperty("lower").GetString(), missing.GetProperty("domain").GetString(),
             missing.GetProperty("uuid").GetString(), missing.GetProperty("link").GetString(), missing.GetProperty("problem").GetString()));
        Assert.Contains("libvirt-shim repair web", missing.GetProperty("advice").GetString());
        Assert.Contains(root.GetProperty("lowerDevices").EnumerateArray(), l =>
            l.GetProperty("name").GetString() == "uplink1" && l.GetProperty("up").GetBoolean());
        JsonElement unrecorded = Assert.Single(root.GetProperty("unrecordedLinks").EnumerateArray());
        Assert.Equal(("mvtap9", "veth"), (unrecorded.GetProperty("name").GetString(), unrecorded.GetProperty("kind").GetString()));
    }

    /// <summary>
    /// An uplink deleted with the guest running takes its links along: status says so, first that the uplink is missing,
    /// then, the uplink back, that repair makes them again; a link missing of a guest that does not run is a stale record.
    /// </summary>
    [Fact]
    public void LinksLostWithTheirUplinkAreReportedWithTheRepair()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        h.WriteStatusFile("web", Xml);
        h.Ns.Ip("link", "del", "uplink0");

        HookResult gone = HookHarness.Finish(h.StartProcess("status"), "");

        Assert.True(gone.ExitCode == 3, gone.Stdout + gone.Stderr);
        Assert.Contains("mvtap1: link lost with its uplink, which is missing: bring uplink0 back, then 'libvirt-shim repair web'", gone.Stdout);
        Assert.Contains("lower device uplink0 (MISSING on this host):", gone.Stdout);

        h.Ns.AddVeth("uplink0", "uplink0p");
        HookResult back = HookHarness.Finish(h.StartProcess("status", "--format", "prometheus"), "");
        Assert.Contains("libvirt_shim_disagreements{kind=\"link_lost\"} 1", back.Stdout);

        h.RemoveStatusFile("web");
        HookResult stopped = HookHarness.Finish(h.StartProcess("status"), "");
        Assert.Contains("mvtap1: missing link: ", stopped.Stdout);
    }

    [Fact]
    public void AHookLinkHoldingAHostAddressIsFlaggedWithExitStatus3()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        h.WriteStatusFile("web", Xml);
        h.Ns.Ip("addr", "add", "192.0.2.9/24", "dev", "uplink0");   // not the hook's link: not flagged
        h.Ns.Ip("addr", "add", "2001:db8::2/64", "dev", "mvtap2", "nodad");

        HookResult r = HookHarness.Finish(h.StartProcess("status"), "");

        Assert.True(r.ExitCode == 3, r.Stdout + r.Stderr);
        Assert.Contains("links libvirt-shim made that hold a host address (the host may send from them with the guest's MAC):", r.Stdout);
        string row = r.Stdout.Split('\n').Single(l => l.Contains("2001:db8::2/64", StringComparison.Ordinal));
        Assert.StartsWith("  mvtap2 ", row);
        Assert.Contains("'ip addr flush dev mvtap2'", row);
        Assert.DoesNotContain("192.0.2.9", r.Stdout);

        HookResult json = HookHarness.Finish(h.StartProcess("status", "--json"), "");
        Assert.Equal(3, json.ExitCode);
        using JsonDocument doc = JsonDocument.Parse(json.Stdout);
        JsonElement flagged = Assert.Single(doc.RootElement.GetProperty("linksWithHostAddresses").EnumerateArray());
        Assert.Equal(("mvtap2", "2001:db8::2/64"),
            (flagged.GetProperty("name").GetString(), Assert.Single(flagged.GetProperty("addresses").EnumerateArray()).GetString()));
    }

    [Fact]
    public void WithoutAStateStatusSaysHowItIsRebuilt()
    {
        using var h = HookHarness.Create();
        HookResult r = HookHarness.Finish(h.StartProcess("status"), "");
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("not usable (no state file yet): the next hook call or 'libvirt-shim seed' rebuilds it", r.Stdout);
        Assert.Contains("no names held", r.Stdout);
    }
}
