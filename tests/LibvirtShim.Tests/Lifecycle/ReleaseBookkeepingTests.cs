using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Lifecycle;

/// <summary>What release keeps and forgets besides the links it deletes.</summary>
public class ReleaseBookkeepingTests
{
    private static void Seed(HookHarness h)
    {
        using ShimContext context = h.OpenContext();
        using ShimSession session = ShimSession.Open(context);
        session.Reseed(session.State);
    }

    [Fact]
    public void NamesOfAPersistentDefinitionStayHeldAfterReleaseButNotAfterUndefine()
    {
        using var h = HookHarness.Create();
        string web = TestDomains.Owned("web", TestDomains.Uuid(1), TestDomains.Nics(1, 2, firstName: 3));
        string definition = Path.Combine(h.Settings.LibvirtConfigDir, "web.xml");
        File.WriteAllText(definition, web);
        Seed(h);

        Assert.Equal(0, h.Run("web", "prepare", "begin", web).ExitCode);
        Assert.Equal(0, h.Run("web", "release", "end", web).ExitCode);
        Assert.All(h.ReadState()!.Records, r => Assert.Equal(Holding.Defined, r.Holding));
        Assert.Equal(2, h.ReadState()!.Count);

        Assert.Equal(0, h.Run("web", "prepare", "begin", web).ExitCode);
        File.Delete(definition);
        Assert.Equal(0, h.Run("web", "release", "end", web).ExitCode);
        Assert.Empty(h.ReadState()!.Records);
    }

    [Fact]
    public void AReleaseForgetsForeignLinksThatHaveGone()
    {
        using var h = HookHarness.Create();
        h.Ns.Ip("link", "add", "link", "uplink0", "name", "mvtap9", "type", "macvtap");
        Seed(h);
        Assert.Equal(Holding.Foreign, h.ReadState()!.Find("mvtap9")!.Holding);
        h.Ns.Ip("link", "del", "mvtap9");
        string web = TestDomains.Owned("web", TestDomains.Uuid(1), TestDomains.Nics(1, 1, firstName: 0));

        Assert.Equal(0, h.Run("web", "prepare", "begin", web).ExitCode);
        Assert.Equal(0, h.Run("web", "release", "end", web).ExitCode);

        Assert.Empty(h.ReadState()!.Records);
    }
}
