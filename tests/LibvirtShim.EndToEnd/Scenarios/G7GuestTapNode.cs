using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Issue 22, the tap is the guest's: macvtaps of another network namespace are made on the ifindexes the host hands out
/// next (RTM_NEWLINK takes an ifindex), so devtmpfs gives their /dev/tapN nodes to them. The booted guest's link lands on
/// one of those ifindexes; the hook makes its node name the guest's own device, QEMU holds that device, the guest
/// reaches its LAN, and nothing of the guest reaches the other namespace.
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class G7GuestTapNode(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-g7-";
    private const string Other = "e2e-g7-other";
    private const int Window = 12;

    [Fact]
    public void A_AnotherNamespacesMacvtapHoldsTheGuestsNode_TheGuestGetsItsOwnDevice()
    {
        fixture.Require();
        using ScenarioLog log = fixture.Scenario("g7 booted guest: another namespace's macvtaps hold /dev/tapN of the next ifindexes");
        var nic = new GuestLanNic(new OwnedNic(GuestXml.Mac(0x99, 1), fixture.Tap(970), LibvirtFixture.Uplink0, "bridge"), Lan.GuestAddress(0));
        var guest = new LinuxGuest(fixture, Prefix + "tap", [nic]);
        try
        {
            int first = OccupyTheNextIfindexes(log);
            long logMark = fixture.LogOffset();

            guest.Boot(fixture, log, makeRoom: false);

            string link = ((OwnedNic)nic.Nic).Name;
            int index = IpLinks.Find(link)!.Index;
            Assert.InRange(index, first, first + Window - 1);
            Assert.Equal(TapNodes.SysfsDevice(link), TapNodes.NodeDevice($"/dev/tap{index}"));
            Assert.Contains($"/dev/tap{index} named another device", fixture.ShimLogSince(logMark));
            log.Step("20 pings", () => PingTwenty(nic.Address.V4));
            Assert.Equal(0, FramesReceived());

            log.Step("virsh destroy", () => fixture.Main.Destroy(guest.Name).MustSucceed());
            Expect.WaitNothingLeftOf(fixture, guest.Xml);
            Assert.False(File.Exists($"/dev/tap{index}"), $"/dev/tap{index}, made by the hook, is left after destroy");
            Assert.All(Enumerable.Range(first, Window).Where(i => i != index), i => Assert.True(File.Exists($"/dev/tap{i}"),
                $"/dev/tap{i} of the other namespace's macvtap is gone"));
        }
        finally
        {
            fixture.AfterScenario(Prefix);
            Cmd.Run("ip", ["netns", "del", Other]);
        }
    }

    /// <summary>
    /// The other namespace: a veth pair (sq0, sq0p), IPv6 off (its macvtaps send nothing of their own), and up macvtaps
    /// on sq0 with the ifindexes the host hands out next, their nodes devtmpfs' and theirs. Returns the first of those.
    /// </summary>
    private static int OccupyTheNextIfindexes(ScenarioLog log)
    {
        Cmd.Run("ip", ["netns", "del", Other]);
        Cmd.Run("ip", ["netns", "add", Other]).MustSucceed($"ip netns add {Other}");
        In("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
        In("ip", "link", "add", "sq0", "type", "veth", "peer", "name", "sq0p");
        In("ip", "link", "set", "sq0", "up");
        In("ip", "link", "set", "sq0p", "up");
        int first = TapNodes.NextIfindex();
        for (int i = first; i < first + Window; i++)
        {
            In("ip", "link", "add", "link", "sq0", "name", $"sq{i}", "index", $"{i}", "type", "macvtap", "mode", "bridge");
            In("ip", "link", "set", $"sq{i}", "up");
            string theirs = Cmd.Run("ip", ["netns", "exec", Other, "cat", $"/sys/class/net/sq{i}/macvtap/tap{i}/dev"]).MustSucceed().Stdout.Trim();
            Assert.True(TapNodes.NodeDevice($"/dev/tap{i}") == theirs, $"/dev/tap{i} should be the other namespace's sq{i} ({theirs})");
        }
        log.Say($"ifindexes {first}..{first + Window - 1}: macvtaps of {Other} hold their /dev/tap nodes");
        return first;
    }

    /// <summary>Frames the other namespace's uplink peer has received: a guest writing into one of its macvtaps would show here.</summary>
    private static long FramesReceived()
    {
        string json = Cmd.Run("ip", ["-n", Other, "-s", "-j", "link", "show", "sq0p"]).MustSucceed().Stdout;
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        return doc.RootElement[0].GetProperty("stats64").GetProperty("rx").GetProperty("packets").GetInt64();
    }

    private static void PingTwenty(string address)
    {
        CmdResult ping = Lan.In(TimeSpan.FromSeconds(30), "ping", "-n", "-q", "-c", "20", "-i", "0.02", "-W", "2", address);
        Assert.True(ping.Ok && ping.Stdout.Contains("20 packets transmitted, 20 received", StringComparison.Ordinal), ping.Describe());
    }

    private static void In(params string[] command) =>
        Cmd.Run("ip", ["netns", "exec", Other, .. command]).MustSucceed(string.Join(' ', command));
}
