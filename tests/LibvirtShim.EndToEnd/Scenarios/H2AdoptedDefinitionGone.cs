using System.Xml.Linq;
using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

namespace LibvirtShim.EndToEnd.Scenarios;

/// <summary>
/// Names freed with their definition, and a status that changes nothing: `libvirt-shim adopt` holds names for a
/// definition, `virsh define` takes the adopted XML, `virsh undefine` removes it, and the names come back without a
/// `seed`, at the next allocation (another adopt) that finds the definition gone, having seen it; until then `status`
/// lists them as to be freed, as often as it is asked, without calling them a disagreement (it exits 0), and `status
/// --format prometheus` counts them as still held and as held for gone definitions. A `seed` frees them as well.
/// No guest runs here (no hook call is involved: libvirt runs none on define and undefine).
/// </summary>
[Collection(LibvirtCollection.Name)]
public sealed class H2AdoptedDefinitionGone(LibvirtFixture fixture)
{
    private const string Prefix = "e2e-h2-";
    private const string FreedLater = "definition gone: will be freed at the next allocation or seed";

    [Fact]
    public void A_AdoptDefineUndefine_TheNamesComeBackAtTheNextAllocationOrSeed()
    {
        fixture.Require();
        using ScenarioLog log =
            fixture.Scenario("h2 adopt, virsh define, virsh undefine: names back without seed at the next allocation, or at seed");
        try
        {
            var first = new GuestXml(Prefix + "first", [
                new DirectNic(GuestXml.Mac(0xa1, 1), LibvirtFixture.Uplink0),
                new DirectNic(GuestXml.Mac(0xa1, 2), LibvirtFixture.Uplink0, "vepa"),
            ]);
            var second = new GuestXml(Prefix + "second", [new DirectNic(GuestXml.Mac(0xa1, 3), LibvirtFixture.Uplink0)]);
            var third = new GuestXml(Prefix + "third", [new DirectNic(GuestXml.Mac(0xa1, 4), LibvirtFixture.Uplink0)]);

            // Given back by the next allocation; status lists them meanwhile, and changes nothing.
            (List<string> firstNames, _) = AdoptAndDefine(log, first);
            ExpectMetric("libvirt_shim_names_held{holding=\"defined\"}", firstNames.Count, $"{first.Name} defined");
            (List<string> secondNames, _) = AdoptAndDefine(log, second);   // an allocation, which sees the first definition
            Undefine(log, first);
            for (int look = 1; look <= 2; look++)
            {
                ShimStatus gone = fixture.Status();
                Assert.True(gone.ExitCode == 0, $"status {look} after virsh undefine {first.Name}: {gone}");
                foreach (string name in firstNames)
                    Assert.True(gone.Find(name) is { Problem: FreedLater } e && e.Domain == first.Name,
                        $"{name}, status {look} after virsh undefine: {gone}");
            }
            ExpectMetric("libvirt_shim_names_held{holding=\"defined\"}", firstNames.Count + secondNames.Count, $"{first.Name} undefined");
            ExpectMetric("libvirt_shim_names_held_for_gone_definitions", firstNames.Count, $"{first.Name} undefined");
            (List<string> thirdNames, ShimStatus allocated) = AdoptAndDefine(log, third);
            Assert.True(allocated.Of(first).Count == 0, $"the names of {first.Name} were not given back by the next allocation: {allocated}");
            ExpectMetric("libvirt_shim_names_held{holding=\"defined\"}", secondNames.Count + thirdNames.Count, $"{third.Name} adopted");

            // Given back by seed, which also sees the definitions still there.
            Seed(log);
            Undefine(log, second);
            Undefine(log, third);
            Assert.True(fixture.Status() is { ExitCode: 0 } before && secondNames.Concat(thirdNames).All(n => before.Find(n)?.Problem == FreedLater),
                $"after virsh undefine {second.Name} and {third.Name}: {fixture.Status()}");
            Seed(log);
            ShimStatus clean = fixture.Status();
            Assert.True(clean.ExitCode == 0 && clean.Names.Count == 0, $"names left held: {clean}");
        }
        finally
        {
            fixture.AfterScenario(Prefix);
        }
    }

    private void Seed(ScenarioLog log) =>
        log.Step("libvirt-shim seed", () => ShimAdmin.Run(fixture, ["seed"]).MustSucceed("libvirt-shim seed"));

    /// <summary>
    /// adopt (names held for the definition), virsh define of its output (the definition hands the NICs to the hook), and a
    /// status that shows the names held for it; returns the names, in the order of the guest's NICs, and that status (the
    /// first look after the adopt).
    /// </summary>
    private (List<string> Names, ShimStatus Status) AdoptAndDefine(ScenarioLog log, GuestXml guest)
    {
        string adopted = log.Step($"libvirt-shim adopt {guest.Name}", () => ShimAdmin.Run(fixture, ["adopt", "-"], stdin: guest.ToXml())
            .MustSucceed($"libvirt-shim adopt {guest.Name}").Stdout);
        log.Step($"virsh define {guest.Name} (adopted)", () => fixture.Main.Run("define", fixture.Main.WriteXml(guest.Name, adopted))
            .MustSucceed($"virsh define of the adopted {guest.Name}"));
        XDocument definition = fixture.Main.DumpXml(guest.Name, inactive: true);
        var names = new List<string>();
        foreach (string mac in guest.Macs)
        {
            XElement? device = ShimAdmin.Interface(definition, mac);
            string? name = (string?)device?.Element("target")?.Attribute("dev");
            Assert.True(device is not null && (string?)device.Attribute("type") == "ethernet" && name is not null
                && ShimAdmin.ShimLink(definition, mac) is not null, $"{guest.Name}'s definition does not hand NIC {mac} to the hook: {device}");
            names.Add(name!);
        }
        ShimStatus status = fixture.Status();
        foreach (string name in names)
            Assert.True(status.Find(name) is { HeldAs: "defined", Problem: null } e && e.Uuid == guest.Uuid.ToString("D"),
                $"{name} is not held for {guest.Name}'s definition: {status}");
        return (names, status);
    }

    /// <summary>`status --format prometheus` (node_exporter's textfile format) has the sample "SERIES VALUE".</summary>
    private void ExpectMetric(string series, int value, string when)
    {
        string text = ShimAdmin.Run(fixture, ["status", "--format", "prometheus"]).MustSucceed("libvirt-shim status --format prometheus").Stdout;
        Assert.True(text.Split('\n').Contains($"{series} {value}"), $"{when}: no sample \"{series} {value}\" in:\n{text}");
    }

    private void Undefine(ScenarioLog log, GuestXml guest) =>
        log.Step($"virsh undefine {guest.Name}", () => fixture.Main.Run("undefine", guest.Name).MustSucceed($"virsh undefine {guest.Name}"));
}
