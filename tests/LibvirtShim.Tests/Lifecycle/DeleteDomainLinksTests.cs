using LibvirtShim.Session;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Lifecycle;

/// <summary>
/// The one deletion policy every operation uses: of the links given, only the domain's go; a group goes whole only when it
/// holds exactly them; a link the kernel will not delete is one line naming the domain, the link and the kernel's answer.
/// </summary>
public class DeleteDomainLinksTests
{
    private static readonly Guid Web = TestDomains.Uuid(91);

    [Fact]
    public void OnlyTheDomainsLinksAmongThoseGivenGo()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", TestDomains.Owned("web", Web, TestDomains.Nics(91, 2, firstName: 1))).ExitCode);
        h.Ns.AddVeth("mvtap3", "mvtap3p");
        using var context = h.OpenContext();

        LinkDeletion deletion = DeleteDomainLinks.Run(context.Links, context.Taps, context.Marker, Web, "web",
            DeleteDomainLinks.OnNames(context.Links, ["mvtap1", "mvtap2", "mvtap3", "mvtap9"]).Values);

        Assert.Equal((2, 0), (deletion.Deleted, deletion.Failed.Count));
        Assert.Equal(["mvtap3"], deletion.NotOurs.Select(l => l.Name));
        Assert.Null(deletion.Failure);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Name is "mvtap1" or "mvtap2");
        Assert.Contains(h.Ns.Links(), l => l.Name == "mvtap3");
    }

    /// <summary>Two of the domain's three links asked for: the group holds one more, so it is not deleted whole.</summary>
    [Fact]
    public void AGroupHoldingMoreThanTheLinksGivenIsNotDeletedWhole()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", TestDomains.Owned("web", Web, TestDomains.Nics(91, 3, firstName: 1))).ExitCode);
        using var context = h.OpenContext();

        LinkDeletion deletion = DeleteDomainLinks.Run(context.Links, context.Taps, context.Marker, Web, "web",
            DeleteDomainLinks.OnNames(context.Links, ["mvtap1", "mvtap2"]).Values);

        Assert.Equal(2, deletion.Deleted);
        Assert.Equal(["mvtap3"], h.Ns.Links().Where(l => l.Name.StartsWith("mvtap", StringComparison.Ordinal)).Select(l => l.Name));
    }

    /// <summary>
    /// A release that may not delete links (a hook process without CAP_NET_ADMIN: the kernel answers EPERM, to the group
    /// deletion and to each link) fails with the policy's one line, which names the domain, the link and the cause.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ALinkTheKernelWillNotDeleteIsOneLineNamingTheDomainTheLinkAndTheCause(int nics)
    {
        using var h = HookHarness.Create();
        string xml = TestDomains.Owned("web", Web, TestDomains.Nics(91, nics, firstName: 1));
        Assert.Equal(0, h.Run("web", "prepare", "begin", xml).ExitCode);
        int first = h.Ns.Link("mvtap1").Index;

        h.Wrapper = ["setpriv", "--bounding-set", "-net_admin", "--inh-caps", "-net_admin"];
        HookResult release = h.RunProcess("web", "release", "end", xml);
        h.Wrapper = [];

        Assert.Equal((1, $"libvirt-shim: domain 'web': cannot delete macvtap mvtap1 (ifindex {first}): Operation not permitted (EPERM, errno 1)\n"),
            (release.ExitCode, release.Stderr));
        Assert.Equal(nics, h.Ns.Links().Count(l => l.Name.StartsWith("mvtap", StringComparison.Ordinal)));
        Assert.Equal(0, h.Run("web", "release", "end", xml).ExitCode);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Name.StartsWith("mvtap", StringComparison.Ordinal));
    }
}
