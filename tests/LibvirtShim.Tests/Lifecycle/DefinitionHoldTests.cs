using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Lifecycle;

/// <summary>
/// A name held for a definition stays held while the definition uses it: nothing frees it on a doubt, and the hold is
/// the definition's, known by its UUID, not by a file name or another domain's use of the name.
/// </summary>
public class DefinitionHoldTests
{
    private static readonly Guid Web = TestDomains.Uuid(79), Db = TestDomains.Uuid(80);

    private static string WebXml(string name = "web") => TestDomains.Owned(name, Web, [new("52:54:00:aa:79:01", "mvtap5")]);

    /// <summary>Renamed while it runs (virsh domrename), the guest's release keeps the names its definition, known by UUID, uses.</summary>
    [Fact]
    public void AReleaseAfterADomrenameKeepsTheNamesTheDefinitionUses()
    {
        using var h = HookHarness.Create();
        File.WriteAllText(Path.Combine(h.Settings.LibvirtConfigDir, "web.xml"), WebXml());
        Assert.Equal(0, h.Run("web", "prepare", "begin", WebXml()).ExitCode);
        Assert.Equal(0, h.Run("web", "release", "end", WebXml()).ExitCode);
        Assert.Equal(Holding.Defined, h.ReadState()!.Find("mvtap5")!.Holding);
        Assert.Equal(0, h.Run("web", "prepare", "begin", WebXml()).ExitCode);
        File.Move(Path.Combine(h.Settings.LibvirtConfigDir, "web.xml"), Path.Combine(h.Settings.LibvirtConfigDir, "www.xml"));
        File.WriteAllText(Path.Combine(h.Settings.LibvirtConfigDir, "www.xml"), WebXml("www"));

        Assert.Equal(0, h.Run("www", "release", "end", WebXml("www")).ExitCode);

        Assert.Equal((Holding.Defined, Web), (h.ReadState()!.Find("mvtap5")!.Holding, h.ReadState()!.Find("mvtap5")!.Domain));
    }

    /// <summary>A definition renamed keeps its hold against another domain's start that names the same name.</summary>
    [Fact]
    public void AnotherDomainCannotTakeTheNameOfARenamedDefinition()
    {
        using var h = HookHarness.Create();
        File.WriteAllText(Path.Combine(h.Settings.LibvirtConfigDir, "web.xml"), WebXml());
        Assert.Equal(0, h.Run("web", "release", "end", WebXml()).ExitCode);   // seeding holds mvtap5 for the definition
        File.Delete(Path.Combine(h.Settings.LibvirtConfigDir, "web.xml"));
        File.WriteAllText(Path.Combine(h.Settings.LibvirtConfigDir, "www.xml"), WebXml("www"));

        HookResult db = h.Run("db", "prepare", "begin", TestDomains.Owned("db", Db, [new("52:54:00:aa:80:01", "mvtap5")]));

        Assert.Equal((1, "libvirt-shim: domain 'db': NIC 52:54:00:aa:80:01 (mvtap5): name is held by the definition of domain 'web'\n"),
            (db.ExitCode, db.Stderr));
    }

    /// <summary>
    /// A direct NIC of another domain whose explicit target is the name a definition holds: libvirt makes that macvtap, the
    /// hook records who runs on the name, and when that domain stops the definition still holds its name.
    /// </summary>
    [Fact]
    public void ADirectNicOnADefinitionsNameDoesNotTakeTheHoldAway()
    {
        using var h = HookHarness.Create();
        string web = TestDomains.Owned("web", Web, [new("52:54:00:aa:79:01", "mvtap5")]);
        File.WriteAllText(Path.Combine(h.Settings.LibvirtConfigDir, "web.xml"), web);
        Assert.Equal(0, h.Run("web", "release", "end", web).ExitCode);   // any call: seeding holds mvtap5 for web's definition
        Assert.Equal((Holding.Defined, Web), (h.ReadState()!.Find("mvtap5")!.Holding, h.ReadState()!.Find("mvtap5")!.Domain));
        string db = $"<domain><name>db</name><uuid>{Db}</uuid><devices><interface type='direct'><mac address='52:54:00:aa:80:01'/>" +
            "<source dev='uplink0' mode='bridge'/><target dev='mvtap5'/></interface></devices></domain>";
        h.Ns.Ip("link", "add", "link", "uplink0", "name", "mvtap5", "type", "macvtap");   // what libvirt makes for db's direct NIC

        HookResult started = h.Run("db", "started", "begin", db);
        h.Ns.Ip("link", "del", "mvtap5");
        HookResult released = h.Run("db", "release", "end", db);

        Assert.Equal((0, 0), (started.ExitCode, released.ExitCode));
        NameRecord held = h.ReadState()!.Find("mvtap5")!;
        Assert.Equal((Holding.Defined, Web), (held.Holding, held.Domain));
    }
}
