using System.Text.Json;
using LibvirtShim.Net;
using LibvirtShim.Netfilter;
using LibvirtShim.Session;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Guard;

/// <summary>What the admin verbs say of guards: status (each link's guard, a guard gone missing, a guard table left behind)
/// and explain (each NIC's guard, and a guard offered to an unguarded NIC).</summary>
public sealed class GuardReportTests
{
    private static readonly Guid Web = TestDomains.Uuid(61);

    private static string Xml => TestDomains.Owned("web", Web,
    [
        new("52:54:00:aa:61:01", "mvtap1", LinkAttributes: "guard='ip' ips='192.0.2.10'"),
        new("52:54:00:aa:61:02", "mvtap2"),
    ]);

    [Fact]
    public void Status_shows_each_links_guard_and_flags_a_missing_guard_and_a_table_left_behind()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", Xml).ExitCode);
        h.WriteStatusFile("web", Xml);

        HookResult agreed = HookHarness.Finish(h.StartProcess("status"), "");
        Assert.True(agreed.ExitCode == 0, agreed.Stdout + agreed.Stderr);
        Assert.Contains(" ip ", agreed.Stdout.Split('\n').Single(l => l.TrimStart().StartsWith("mvtap1 ", StringComparison.Ordinal)));
        Assert.Contains(" off ", agreed.Stdout.Split('\n').Single(l => l.TrimStart().StartsWith("mvtap2 ", StringComparison.Ordinal)));

        LinkMarker marker = LinkMarker.For(h.Settings);
        Tool.Run("ip", "netns", "exec", h.Ns.Name, "nft", "delete", "table", "netdev", marker.GuardTable(Web));
        Guid gone = TestDomains.Uuid(62);
        using (GuardTables tables = h.Ns.OpenGuardTables())
            GuardLinks.Apply(tables, marker, gone, "gone", [new LinkGuard("mvtap9", new MacAddress(0x525400aa6209), GuardMode.Mac, [])]);

        HookResult r = HookHarness.Finish(h.StartProcess("status"), "");

        Assert.True(r.ExitCode == 3, r.Stdout + r.Stderr);
        Assert.Contains("mvtap1: guard missing: the link's guard is not in the kernel: the guest sends unguarded", r.Stdout);
        Assert.Contains($"  {marker.GuardTable(gone)}", r.Stdout);
        Assert.Contains("1 guard table of a domain not running here(s): 'libvirt-shim seed' deletes them", r.Stdout);

        using JsonDocument json = JsonDocument.Parse(HookHarness.Finish(h.StartProcess("status", "--json"), "").Stdout);
        JsonElement mvtap1 = json.RootElement.GetProperty("names").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "mvtap1");
        Assert.Equal(("ip", "guard missing: the link's guard is not in the kernel"),
            (mvtap1.GetProperty("guard").GetString(), mvtap1.GetProperty("problem").GetString()));
        JsonElement orphan = Assert.Single(json.RootElement.GetProperty("orphanGuards").EnumerateArray());
        Assert.Equal((marker.GuardTable(gone), gone.ToString("D")),
            (orphan.GetProperty("table").GetString(), orphan.GetProperty("uuid").GetString()));

        HookResult seeded = HookHarness.Finish(h.StartProcess("seed"), "");
        Assert.True(seeded.ExitCode == 0, seeded.Stderr);
        Assert.Contains("and 1 orphaned guard tables", seeded.Stdout);
        Assert.Empty(NftView.Of(h.Ns).Tables);
    }

    [Fact]
    public void Explain_shows_each_nics_guard_and_offers_one_to_an_unguarded_nic()
    {
        using var h = HookHarness.Create();
        string file = Path.Combine(h.Root, "web.xml");
        File.WriteAllText(file, Xml);

        HookResult r = HookHarness.Finish(h.StartProcess("explain", file), "");

        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains("guard ip (guard=): only as 52:54:00:aa:61:01, from 192.0.2.10, fe80::5054:ff:feaa:6101; no DHCP server, "
            + "no router advertisement", r.Stdout);
        Assert.Contains("guard off (the Guard setting): the guest may send as any MAC and any address; guard='mac' on its <shim:link> stops "
            + "the first, guard='ip' ips='ADDRESSES' both", r.Stdout);
        Assert.Contains("puts the guard of 1 of them in place before they are up;", r.Stdout);

        File.WriteAllText(h.SettingsFile, "{\"Guard\": \"ip\"}");
        using JsonDocument json = JsonDocument.Parse(HookHarness.Finish(h.StartProcess("explain", "--json", file), "").Stdout);
        JsonElement second = json.RootElement.GetProperty("nics")[1];
        Assert.Equal(("ip", "setting"), (second.GetProperty("guard").GetString(), second.GetProperty("guardFrom").GetString()));
        Assert.Equal(["fe80::5054:ff:feaa:6102"], second.GetProperty("guardAddresses").EnumerateArray().Select(a => a.GetString()));
        Assert.Contains(second.GetProperty("warnings").EnumerateArray(),
            w => w.GetString()!.Contains("lists no address in ips=", StringComparison.Ordinal));
    }
}
