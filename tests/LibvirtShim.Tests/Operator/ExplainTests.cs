using System.Text;
using System.Text.Json;
using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>
/// explain: the dry run of prepare. For each situation the plan is checked against what the real prepare then does
/// on the same namespace and state: the same verdict, and the very line the hook prints; and the plan changes nothing.
/// </summary>
public class ExplainTests
{
    private static readonly Guid A = TestDomains.Uuid(21), B = TestDomains.Uuid(22);

    private static PreparePreview Plan(HookHarness h, string xml)
    {
        DomainDescription domain = DomainReader.Read(DomainXml.Parse(Encoding.UTF8.GetBytes(xml)));
        using ShimContext context = h.OpenContext();
        return PreparePreviewer.Preview(context, domain);
    }

    /// <summary>Plans, checks nothing changed, runs the real prepare, and checks it did what the plan said.</summary>
    private static PreparePreview PlanThenPrepare(HookHarness h, string name, string xml)
    {
        string stateFile = Path.Combine(h.Settings.StateDir, "state");
        byte[]? stateBefore = File.Exists(stateFile) ? File.ReadAllBytes(stateFile) : null;
        string linksBefore = Describe(h.Ns.Links());

        PreparePreview preview = Plan(h, xml);

        Assert.Equal(stateBefore, File.Exists(stateFile) ? File.ReadAllBytes(stateFile) : null);
        Assert.Equal(linksBefore, Describe(h.Ns.Links()));

        HookResult real = h.Run(name, "prepare", "begin", xml);
        if (preview.Failure is { } failure)
            Assert.Equal((1, $"libvirt-shim: {failure.Message}\n"), (real.ExitCode, real.Stderr));
        else if (preview.LikelyKernelFailure is { } kernel)
        {
            Assert.Equal(1, real.ExitCode);
            string predicted = kernel.Message[..(kernel.Message.IndexOf(": cannot create macvtap on ", StringComparison.Ordinal)
                + ": cannot create macvtap on ".Length)];
            Assert.StartsWith($"libvirt-shim: {predicted}", real.Stderr);
        }
        else
            Assert.Equal((0, ""), (real.ExitCode, real.Stderr));
        return preview;
    }

    private static string Describe(IReadOnlyList<IpLink> links) =>
        string.Join(", ", links.OrderBy(l => l.Index).Select(l => $"{l.Index}:{l.Name}:{l.Address}:{l.IsUp}"));

    [Fact]
    public void APrepareThatWouldSucceedAndThenTheLinksItWouldKeep()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        string xml = TestDomains.Owned("a", A,
            [new("52:54:00:aa:21:01", "mvtap1", "uplink0"), new("52:54:00:aa:21:02", "mvtap2", "uplink1", "vepa")]);

        PreparePreview first = PlanThenPrepare(h, "a", xml);

        Assert.True(first.WouldSucceed);
        Assert.NotNull(first.StateNote);   // no state yet: prepare seeds first
        Assert.All(first.Nics, n => Assert.Equal((LinkAction.Create, false), (n.Action, n.Fails)));
        PreparePreview again = Plan(h, xml);
        Assert.True(again.WouldSucceed);
        Assert.Null(again.StateNote);
        Assert.All(again.Nics, n => Assert.Equal((LinkAction.Keep, false), (n.Action, n.Fails)));
    }

    [Fact]
    public void ANameHeldByAnotherDomain()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("a", "prepare", "begin", TestDomains.Owned("a", A, [new("52:54:00:aa:21:01", "mvtap1")])).ExitCode);
        PreparePreview p = PlanThenPrepare(h, "b", TestDomains.Owned("b", B, [new("52:54:00:aa:22:01", "mvtap1")]));
        Assert.Contains("name is held by domain 'a'", p.Failure!.Message);
        Assert.Contains("give this NIC another target dev", p.Failure.Advice);
    }

    [Fact]
    public void ANameReservedForAnArrivingDomain()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("a", "migrate", "begin", TestDomains.Owned("a", A, [new("52:54:00:aa:21:03", "mvtap3")])).ExitCode);
        PreparePreview p = PlanThenPrepare(h, "b", TestDomains.Owned("b", B, [new("52:54:00:aa:22:03", "mvtap3")]));
        Assert.Contains("(reserved for its arrival)", p.Failure!.Message);
    }

    [Fact]
    public void AMissingLowerDeviceAndALowerDeviceMappedByUplinks()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        PreparePreview missing = PlanThenPrepare(h, "a", TestDomains.Owned("a", A, [new("52:54:00:aa:21:04", "mvtap4", "eno9")]));
        Assert.Contains("lower device eno9 does not exist on this host", missing.Failure!.Message);

        h.Settings.Uplinks["eno9"] = "uplink1";
        PreparePreview mapped = PlanThenPrepare(h, "a", TestDomains.Owned("a", A, [new("52:54:00:aa:21:04", "mvtap4", "eno9")]));
        Assert.True(mapped.WouldSucceed);
        Assert.Equal(("uplink1", "eno9 -> uplink1 (Uplinks)"), (mapped.Nics[0].Lower, mapped.Nics[0].LowerNote));
    }

    [Fact]
    public void AForeignLinkOnTheName()
    {
        using var h = HookHarness.Create();
        h.Ns.AddVeth("mvtap5", "mvtap5p");
        PreparePreview p = PlanThenPrepare(h, "a", TestDomains.Owned("a", A, [new("52:54:00:aa:21:05", "mvtap5")]));
        Assert.Contains("name is held by a link libvirt-shim did not create", p.Failure!.Message);
        Assert.Contains("ip link del mvtap5", p.Failure.Advice);
    }

    [Fact]
    public void SettingsAndDefinitionProblemsInPreparesOrder()
    {
        using var h = HookHarness.Create("uplink0", "uplink1");
        h.Settings.AllowedLowerDevices = ["uplink1"];
        PreparePreview notAllowed = PlanThenPrepare(h, "a", TestDomains.Owned("a", A, [new("52:54:00:aa:21:06", "mvtap6", "uplink0")]));
        Assert.Contains("is not in AllowedLowerDevices", notAllowed.Failure!.Message);

        PreparePreview network = PlanThenPrepare(h, "a", TestDomains.Owned("a", A, [new("52:54:00:aa:21:07", "mvtap7", null, Network: "physnet9")]));
        Assert.Contains("network 'physnet9' is not in this host's Networks setting", network.Failure!.Message);

        PreparePreview name = PlanThenPrepare(h, "a", TestDomains.Owned("a", A, [new("52:54:00:aa:21:08", "eth8", "uplink1")]));
        Assert.Contains("target dev is not a libvirt-shim name", name.Failure!.Message);

        PreparePreview passthru = PlanThenPrepare(h, "a", TestDomains.Owned("a", A,
            [new("52:54:00:aa:21:09", "mvtap9", "uplink1", "passthru"), new("52:54:00:aa:21:0a", "mvtap10", "uplink1", "passthru")]));
        Assert.Contains("passthru mode requested twice", passthru.Failure!.Message);

        // Several problems: prepare reports the first of its first failing check, and so does explain.
        PreparePreview several = PlanThenPrepare(h, "a", TestDomains.Owned("a", A,
            [new("52:54:00:aa:21:0b", "eth11", "uplink1"), new("52:54:00:aa:21:0c", "mvtap12", "uplink0")]));
        Assert.Contains("mvtap12", several.Failure!.Message);
        Assert.Equal(2, several.Nics.Count(n => n.Problems.Count > 0));
    }

    [Fact]
    public void TheKernelsRefusalOfADuplicateMacIsForeseen()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("a", "prepare", "begin", TestDomains.Owned("a", A, [new("52:54:00:aa:21:0d", "mvtap13")])).ExitCode);
        PreparePreview p = PlanThenPrepare(h, "b", TestDomains.Owned("b", B, [new("52:54:00:aa:21:0d", "mvtap14")]));
        Assert.Null(p.Failure);
        Assert.Contains("Address already in use: mvtap13 on uplink0 already has MAC 52:54:00:aa:21:0d", p.LikelyKernelFailure!.Message);
    }

    [Fact]
    public void AnMtuTheLowerDeviceCannotCarry()
    {
        using var h = HookHarness.Create();
        PreparePreview p = PlanThenPrepare(h, "a", TestDomains.Owned("a", A, [new("52:54:00:aa:21:01", "mvtap1", LinkAttributes: "mtu='9000'")]));
        Assert.Equal("domain 'a': NIC 52:54:00:aa:21:01 (mvtap1): mtu 9000 is more than lower device uplink0 carries (its MTU is 1500)",
            p.Failure!.Message);
        Assert.Contains("'ip link set DEVICE mtu 9000'", p.Failure.Advice);
        Assert.Equal("mtu 9000, allmulticast on", p.Nics[0].LinkSettings);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Name == "mvtap1");
    }

    [Fact]
    public void TheLinkSettingsAreShownAppliedAndALinkWithOtherSettingsIsReplaced()
    {
        using var h = HookHarness.Create();
        h.Ns.Ip("link", "set", "uplink0", "mtu", "9000");
        string jumbo = TestDomains.Owned("a", A, [new("52:54:00:aa:21:01", "mvtap1", LinkAttributes: "mtu='9000' allmulticast='off'")]);
        string plain = TestDomains.Owned("a", A, [new("52:54:00:aa:21:01", "mvtap1")]);

        PreparePreview first = PlanThenPrepare(h, "a", jumbo);
        Assert.Equal("mtu 9000, allmulticast off", first.Nics[0].LinkSettings);
        IpLink made = h.Ns.Link("mvtap1");
        Assert.Equal((9000, false, "none", true), (made.Mtu, made.AllMulticast, made.AddressGenerationMode, made.IsUp));
        Assert.Equal(LinkAction.Keep, Plan(h, jumbo).Nics[0].Action);

        PreparePreview changed = PlanThenPrepare(h, "a", plain);
        Assert.Equal("mtu 9000 (the lower device's), allmulticast on", changed.Nics[0].LinkSettings);
        Assert.Equal(LinkAction.Replace, changed.Nics[0].Action);
        Assert.True(h.Ns.Link("mvtap1").AllMulticast);
    }

    [Fact]
    public void TheCommandPrintsThePlanTheErrorAndWhatToDo()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("a", "prepare", "begin", TestDomains.Owned("a", A, [new("52:54:00:aa:21:01", "mvtap1")])).ExitCode);
        string xml = TestDomains.Owned("b", B, [new("52:54:00:aa:22:01", "mvtap1"), new("52:54:00:aa:22:02", "mvtap2")]);

        HookResult text = HookHarness.Finish(h.StartProcess("explain", "-"), xml);
        Assert.True(text.ExitCode == 1, text.Stdout + text.Stderr);
        Assert.Contains("domain 'b' (" + B.ToString("D") + ") hands 2 NICs to libvirt-shim.", text.Stdout);
        Assert.Contains("NIC 52:54:00:aa:22:02  mvtap2", text.Stdout);
        Assert.Contains("      mtu 1500 (the lower device's), allmulticast on", text.Stdout);
        Assert.Contains("result: prepare begin would FAIL", text.Stdout);
        Assert.Contains("unexpected exit status 1: libvirt-shim: domain 'b': NIC 52:54:00:aa:22:01 (mvtap1): name is held by domain 'a'",
            text.Stdout);
        Assert.Contains("what to do: give this NIC another target dev", text.Stdout);

        HookResult json = HookHarness.Finish(h.StartProcess("explain", "--json", "-"), xml);
        Assert.Equal(1, json.ExitCode);
        using JsonDocument doc = JsonDocument.Parse(json.Stdout);
        Assert.False(doc.RootElement.GetProperty("wouldSucceed").GetBoolean());
        Assert.Equal(2, doc.RootElement.GetProperty("nics").GetArrayLength());
        JsonElement nic = doc.RootElement.GetProperty("nics")[1];
        Assert.Equal((JsonValueKind.Null, 1500, true),
            (nic.GetProperty("mtu").ValueKind, nic.GetProperty("lowerMtu").GetInt32(), nic.GetProperty("allMulticast").GetBoolean()));
        Assert.StartsWith("libvirt-shim: domain 'b'", doc.RootElement.GetProperty("failure").GetString());

        HookResult fine = HookHarness.Finish(h.StartProcess("explain", "-"),
            TestDomains.Owned("c", TestDomains.Uuid(23), [new("52:54:00:aa:23:01", "mvtap3")]));
        Assert.True(fine.ExitCode == 0, fine.Stdout + fine.Stderr);
        Assert.Contains("result: prepare would succeed, creating 1 macvtap", fine.Stdout);
    }

    [Fact]
    public void ADomainXmlThePrepareWouldRefuseAndADomainWithNothingToDo()
    {
        using var t = new TempTree();
        var env = new Dictionary<string, string> { ["LIBVIRT_SHIM_CONFIG"] = t.Write("settings.json", "{}") };
        string broken = t.Write("broken.xml", "<domain><name>web1</name><uuid>not-a-uuid</uuid></domain>");
        ProcessResult r = Run.Shim(["explain", broken, "--", $"--StateDir={t.Path("state")}", $"--LogFile={t.Path("shim.log")}"], env: env);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("libvirt-shim: domain 'web1': domain <uuid> 'not-a-uuid' is not a UUID", r.Stdout);
        Assert.Contains("what to do:", r.Stdout);

        string plain = t.Write("plain.xml",
            "<domain><name>p</name><uuid>00000000-0000-4000-8000-000000000031</uuid><devices><interface type='direct'>" +
                "<mac address='52:54:00:aa:31:01'/><source dev='eth1' mode='vepa'/></interface></devices></domain>");
        ProcessResult nothing = Run.Shim(["explain", plain, "--", $"--StateDir={t.Path("state")}", $"--LogFile={t.Path("shim.log")}"], env: env);
        Assert.True(nothing.ExitCode == 0, nothing.ToString());
        Assert.Contains("hands no NIC to libvirt-shim: prepare does nothing", nothing.Stdout);
        Assert.Contains("libvirt-shim adopt", nothing.Stdout);
    }
}
