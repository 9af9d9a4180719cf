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

    /// <summary>
    /// Found by the soak run (issue 25): adopt's hold waits ReservationSeconds for its definition; a start and stop in that
    /// time kept that wait on the name the definition confirmed, so after `virsh undefine` neither status nor seed gave it back.
    /// </summary>
    [Fact]
    public void ANameAdoptHeldThenStartedAndStopped_GoesBackOnceTheDefinitionGoes()
    {
        using var h = HookHarness.Create();
        (string web, string definition) = DefineAsAdoptDoes(h);

        Assert.Equal(0, h.Run("web", "prepare", "begin", web).ExitCode);
        Assert.Equal(0, h.Run("web", "release", "end", web).ExitCode);
        Assert.All(h.ReadState()!.Records, r => Assert.Equal((Holding.Defined, 0L), (r.Holding, r.ExpiresAt)));

        File.Delete(definition);
        Seed(h);
        Assert.Empty(h.ReadState()!.Records);
    }

    /// <summary>
    /// Found by the soak run (issue 25, seed 431659983 step 22): a guest adopted, defined, started before anything confirmed
    /// adopt's hold, then undefined while it ran, kept its names ReservationSeconds after it stopped. Its start found the
    /// definition naming them, so its release frees them at once; a guest started from adopt's output with no definition
    /// keeps them waiting for one.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ANameAdoptHeldGoesBackAtReleaseWhenTheDefinitionWasThereAtStartAndIsGone(bool definedBeforeStart)
    {
        using var h = HookHarness.Create();
        (string web, string definition) = DefineAsAdoptDoes(h);
        if (!definedBeforeStart) File.Delete(definition);

        Assert.Equal(0, h.Run("web", "prepare", "begin", web).ExitCode);
        File.Delete(definition);
        Assert.Equal(0, h.Run("web", "release", "end", web).ExitCode);

        if (definedBeforeStart) Assert.Empty(h.ReadState()!.Records);
        else Assert.Equal([(Holding.Defined, "mvtap3")], h.ReadState()!.Records.Select(r => (r.Holding, r.Name)));
    }

    /// <summary>Guest "web" (one NIC, mvtap3) defined, its name held as adopt holds it: the domain XML and its definition's path.</summary>
    private static (string Xml, string Definition) DefineAsAdoptDoes(HookHarness h)
    {
        string web = TestDomains.Owned("web", TestDomains.Uuid(1), TestDomains.Nics(1, 1, firstName: 3));
        string definition = Path.Combine(h.Settings.LibvirtConfigDir, "web.xml");
        File.WriteAllText(definition, web);
        Seed(h);
        HoldAsAdoptDoes(h);
        return (web, definition);
    }

    /// <summary>What adopt leaves: the definition's names held, waiting (far longer than the test) for the definition.</summary>
    private static void HoldAsAdoptDoes(HookHarness h)
    {
        using StateLease lease = StateLeases.ToChange(h.Settings.StateDir);
        NameState state = lease.Load(new NameScheme(h.Settings.NamePrefix, h.Settings.Capacity)).State!;
        foreach (NameRecord record in state.Records.ToList()) state.Put(record with { ExpiresAt = long.MaxValue });
        lease.Save(state);
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
