using LibvirtShim.Domain;
using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using LibvirtShim.State;
using Xunit;

namespace LibvirtShim.Tests.Lifecycle;

/// <summary>Seeding's decisions from gathered facts, without a kernel.</summary>
public class SeedStatePlanTests
{
    private static readonly NameScheme Scheme = new("mvtap", 8192);
    private static readonly LinkMarker Here = new("host-a");
    private static readonly LinkMarker Elsewhere = new("host-b");
    private static readonly Guid Web = Guid.Parse("0b6a3a4e-2f4f-4c43-9a3a-6f1d5d8e2a11");
    private static readonly Guid Db = Guid.Parse("0b6a3a4e-2f4f-4c43-9a3a-6f1d5d8e2a22");
    private const long Now = 1_800_000_000;

    private static readonly Link Uplink = new(2, "uplink0", "veth", 0, new MacAddress(0x0200000000aa), 0, null, true, null);

    private static Link Ours(LinkMarker marker, Guid domain, string name, int index, bool labelled = true) =>
        new(index, name, "macvtap", 2, new MacAddress(0x525400000000UL + (ulong)index), marker.Group(domain),
            labelled ? marker.Alias(domain) : null, true, MacvtapMode.Bridge);

    private static DomainDescription Domain(Guid uuid, string name, params OwnedNic[] owned) => new(name, uuid, owned, []);

    private static Dictionary<Guid, DomainDescription> Map(params DomainDescription[] domains) => domains.ToDictionary(d => d.Uuid);

    [Fact]
    public void LinksOfRunningGuestsAreRecordedAsCreatedWithTheirLowerDevice()
    {
        var plan = SeedState.Plan(Scheme, Here, null, Map(Domain(Web, "web")), Map(), [Uplink, Ours(Here, Web, "mvtap3", 10)], Now);
        NameRecord record = plan.State.Find("mvtap3")!;
        Assert.Equal((Holding.Created, Web, "web", 10, "uplink0"), (record.Holding, record.Domain, record.DomainName, record.Ifindex, record.Lower));
        Assert.Empty(plan.Leaked);
    }

    [Fact]
    public void ALinkWhoseDomainIsNotRunningIsKeptOnlyWhenTheOldStateKnowsItsPrepareFinished()
    {
        var previous = new NameState(Scheme);
        previous.Put(new NameRecord("mvtap3", Holding.Created, Web, "web", Ifindex: 10));
        previous.Put(new NameRecord("mvtap4", Holding.Created, Web, "web", Ifindex: 0));
        Link[] links = [Uplink, Ours(Here, Web, "mvtap3", 10), Ours(Here, Web, "mvtap4", 11), Ours(Here, Db, "mvtap5", 12)];

        var plan = SeedState.Plan(Scheme, Here, previous, Map(), Map(), links, Now);

        Assert.Equal(Holding.Created, plan.State.Find("mvtap3")!.Holding);
        Assert.Equal(["mvtap4", "mvtap5"], plan.Leaked.Select(l => l.Link.Name));
        Assert.Null(plan.State.Find("mvtap4"));
    }

    [Fact]
    public void AnotherInstancesLinksAreNeverOursButTheirManagedNamesAreNotFree()
    {
        var plan = SeedState.Plan(Scheme, Here, null, Map(Domain(Web, "web")), Map(),
            [Uplink, Ours(Elsewhere, Web, "mvtap3", 10), Ours(Elsewhere, Db, "other0", 11)], Now);
        Assert.Empty(plan.Leaked);
        Assert.Equal(Holding.Foreign, plan.State.Find("mvtap3")!.Holding);
        Assert.Null(plan.State.Find("other0"));
    }

    [Fact]
    public void AnUnlabelledLinkBelongsToTheKnownDomainWhoseGroupItHas()
    {
        var plan = SeedState.Plan(Scheme, Here, null, Map(Domain(Web, "web")), Map(),
            [Uplink, Ours(Here, Web, "mvtap3", 10, labelled: false), Ours(Here, Db, "mvtap4", 11, labelled: false)], Now);
        Assert.Equal(Web, plan.State.Find("mvtap3")!.Domain);
        Assert.Equal(Holding.Foreign, plan.State.Find("mvtap4")!.Holding);
        Assert.Empty(plan.Leaked);
    }

    [Fact]
    public void DefinitionsHoldTheirNamesAndAdoptedNamesLastUntilTheyExpire()
    {
        var previous = new NameState(Scheme);
        previous.Put(new NameRecord("mvtap8", Holding.Defined, Db, "db", ExpiresAt: Now + 10));
        previous.Put(new NameRecord("mvtap9", Holding.Defined, Db, "db", ExpiresAt: Now - 10));
        previous.Put(new NameRecord("mvtap6", Holding.Reserved, Db, "db", ExpiresAt: Now + 10));
        previous.Put(new NameRecord("mvtap5", Holding.Reserved, Db, "db", ExpiresAt: Now - 10));
        var defined = Map(Domain(Web, "web", new OwnedNic(new MacAddress(1), "mvtap2", "uplink0", null, MacvtapMode.Vepa)));

        var plan = SeedState.Plan(Scheme, Here, previous, Map(), defined, [Uplink], Now);

        Assert.Equal(["mvtap2", "mvtap6", "mvtap8"], plan.State.Records.Select(r => r.Name).Order());
        Assert.Equal((Holding.Defined, Web), (plan.State.Find("mvtap2")!.Holding, plan.State.Find("mvtap2")!.Domain));
    }

    [Fact]
    public void LibvirtsOwnMacvtapsOfRunningGuestsAreRecorded()
    {
        var guest = new DomainDescription("mixed", Web, [],
            [new LibvirtMacvtap(new MacAddress(5), "macvtap385", "uplink0", MacvtapMode.Bridge),
            new LibvirtMacvtap(new MacAddress(6), null, "uplink0", MacvtapMode.Vepa)]);
        Link libvirts = new(20, "macvtap385", "macvtap", 2, new MacAddress(5), 0, null, true, MacvtapMode.Bridge);

        var plan = SeedState.Plan(Scheme, Here, null, Map(guest), Map(), [Uplink, libvirts], Now);

        NameRecord record = Assert.Single(plan.State.Records);
        Assert.Equal(("macvtap385", Holding.Libvirt, 20), (record.Name, record.Holding, record.Ifindex));
    }
}
