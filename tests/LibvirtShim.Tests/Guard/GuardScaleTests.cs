using LibvirtShim.Net;
using LibvirtShim.Netfilter;
using LibvirtShim.Session;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Guard;

/// <summary>
/// A guard larger than a netlink socket's default send buffer (about 200 KiB) still goes in one transaction: 1,000 ip links
/// with 4 addresses each (a batch of about 600 KB: the socket's buffer is raised for it), read back whole.
/// </summary>
public sealed class GuardScaleTests
{
    [Fact]
    public void A_thousand_guarded_links_go_in_one_transaction()
    {
        using var h = HookHarness.Create();
        const int Links = 1000;
        for (int first = 0; first < Links; first += 250)
            h.Ns.Ip("-batch", WriteBatch(h, first, Math.Min(250, Links - first)));
        var guards = Enumerable.Range(0, Links).Select(i => new LinkGuard($"mvtap{i}", new MacAddress(0x525400100000UL + (ulong)i), GuardMode.Ip,
            [Prefix($"10.{i / 256}.{i % 256}.10"), Prefix($"10.{i / 256}.{i % 256}.11"), Prefix($"2001:db8:{i:x}::10"), Prefix($"2001:db8:{i:x}:1::/64")]))
            .ToList();
        using GuardTables tables = h.Ns.OpenGuardTables();

        GuardLinks.Apply(tables, LinkMarker.For(h.Settings), TestDomains.Uuid(1), "big", guards);

        NftView nft = NftView.Of(h.Ns);
        Assert.Equal(Links, nft.EgressChains.Count());
        Assert.Equal(GuardRuleset.Table(guards).Rules, nft.Rules);
    }

    private static IpPrefix Prefix(string text) => IpPrefix.Problem(text, out IpPrefix prefix) is null ? prefix : throw new ArgumentException(text);

    private static string WriteBatch(HookHarness h, int first, int count)
    {
        string path = Path.Combine(h.Root, $"links-{first}.batch");
        File.WriteAllLines(path, Enumerable.Range(first, count).Select(i => $"link add link uplink0 name mvtap{i} type macvtap mode bridge"));
        return path;
    }
}
