using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Net;
using LibvirtShim.Netfilter;
using LibvirtShim.Session;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Guard;

/// <summary>
/// The guard's life follows the link's: put in place by prepare (one table per domain, a chain per guarded link hooked to
/// its egress), kept with the records, removed by release, by a failed prepare, by seeding when it is an orphan, and link by
/// link by detach; never for a guest without a guard, whose calls do not open the netfilter socket. The kernel's ruleset is
/// read back with nft, an independent reader.
/// </summary>
public sealed class GuardLifecycleTests
{
    private static readonly Guid Web = TestDomains.Uuid(1);
    private const string Ips = "192.0.2.10 2001:db8::10";

    private static TestNic[] Nics() =>
    [
        new(TestDomains.Mac(1, 0), "mvtap0", LinkAttributes: $"guard='ip' ips='{Ips}'"),
        new(TestDomains.Mac(1, 1), "mvtap1", LinkAttributes: "guard='mac'"),
        new(TestDomains.Mac(1, 2), "mvtap2"),
    ];

    private static string TableOf(HookHarness h, Guid domain) => LinkMarker.For(h.Settings).GuardTable(domain);

    [Fact]
    public void Prepare_puts_one_marked_table_with_a_chain_on_each_guarded_link_and_release_removes_it()
    {
        using var h = HookHarness.Create();
        string xml = TestDomains.Owned("web", Web, Nics());

        Assert.Equal(0, h.Run("web", "prepare", "begin", xml).ExitCode);

        NftView nft = NftView.Of(h.Ns);
        NftTable table = Assert.Single(nft.Tables);
        Assert.Equal(("netdev", TableOf(h, Web), LinkMarker.For(h.Settings).Alias(Web)), (table.Family, table.Name, table.Comment));
        Assert.Equal(["mvtap0", "mvtap1"], nft.EgressChains.Select(c => c.Device).Order());
        Assert.Equal("drop", nft.EgressChains.Single(c => c.Device == "mvtap0").Policy);
        Assert.Equal("accept", nft.EgressChains.Single(c => c.Device == "mvtap1").Policy);
        Assert.Equal([GuardMode.Ip, GuardMode.Mac, GuardMode.Off],
            h.ReadState()!.OfDomain(Web).OrderBy(r => r.Name).Select(r => r.Guard));

        Assert.Equal(0, h.Run("web", "release", "end", xml).ExitCode);

        Assert.Empty(NftView.Of(h.Ns).Tables);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
    }

    /// <summary>
    /// A guest restored (or arriving) where its names are taken gets other names; the guard its &lt;shim:link&gt; carries comes
    /// with it, and the prepare that follows puts it on the new links.
    /// </summary>
    [Fact]
    public void A_restored_guest_keeps_its_guard_on_the_names_it_gets_here()
    {
        using var h = HookHarness.Create();
        h.Ns.Ip("link", "add", "link", "uplink0", "name", "mvtap0", "type", "macvtap");
        string xml = TestDomains.Owned("web", Web, Nics());

        HookResult restore = h.Run("web", "restore", "begin", xml);
        Assert.Equal(0, restore.ExitCode);
        OwnedNic[] nics = DomainReader.Read(XDocument.Parse(restore.Stdout)).OwnedNics.OrderBy(n => n.Mac.Value).ToArray();
        Assert.NotEqual("mvtap0", nics[0].Name);
        Assert.Equal(new GuardMode?[] { GuardMode.Ip, GuardMode.Mac }, nics.Take(2).Select(n => n.Guard));

        Assert.Equal(0, h.Run("web", "prepare", "begin", restore.Stdout).ExitCode);

        NftView nft = NftView.Of(h.Ns);
        Assert.Equal(new[] { nics[0].Name, nics[1].Name }.Order(), nft.EgressChains.Select(c => c.Device).Order());
        Assert.Equal("drop", nft.EgressChains.Single(c => c.Device == nics[0].Name).Policy);
        Assert.Equal(0, h.Run("web", "release", "end", restore.Stdout).ExitCode);
        Assert.Empty(NftView.Of(h.Ns).Tables);
    }

    /// <summary>
    /// The Guard setting guards NICs that say nothing; their records remember it, so a release after the setting changed still
    /// removes it.
    /// </summary>
    [Fact]
    public void The_Guard_setting_guards_NICs_without_guard_and_release_follows_the_records()
    {
        using var h = HookHarness.Create();
        string xml = TestDomains.Owned("web", Web, TestDomains.Nics(1, 2, firstName: 0));
        h.Settings.Guard = "mac";

        Assert.Equal(0, h.Run("web", "prepare", "begin", xml).ExitCode);
        Assert.Equal(["mvtap0", "mvtap1"], NftView.Of(h.Ns).EgressChains.Select(c => c.Device).Order());

        h.Settings.Guard = "off";
        Assert.Equal(0, h.Run("web", "release", "end", xml).ExitCode);
        Assert.Empty(NftView.Of(h.Ns).Tables);
    }

    /// <summary>Seeding (once after a reboot, or `seed`) reads the netdev tables, whatever the guests; a guest's own calls do not.</summary>
    [Fact]
    public void A_guest_without_a_guard_never_opens_the_netfilter_socket()
    {
        using var h = HookHarness.Create();
        using (ShimContext context = h.OpenContext())
        using (ShimSession session = ShimSession.Open(context))
            Assert.NotNull(session.Seeded);
        int seeding = h.GuardSocketsOpened;
        h.OpenGuards = () => throw new InvalidOperationException("the netfilter socket was opened for an unguarded guest");
        string xml = TestDomains.Owned("web", Web, TestDomains.Nics(1, 3, firstName: 0));

        foreach ((string operation, string sub) in new[] { ("prepare", "begin"), ("started", "begin"), ("release", "end") })
        {
            HookResult result = h.Run("web", operation, sub, xml);
            Assert.True(result.ExitCode == 0, $"{operation}: {result.Stderr}");
        }
        Assert.Equal(seeding, h.GuardSocketsOpened);
    }

    /// <summary>
    /// A kernel without nf_tables (the socket refused): seeding, which a start may wait on, goes on without guards, an unguarded
    /// guest starts and stops, and a guarded one fails its start in one line, leaving nothing.
    /// </summary>
    [Fact]
    public void Without_nf_tables_seeding_and_unguarded_guests_go_on_and_a_guarded_start_fails_in_one_line()
    {
        using var h = HookHarness.Create();
        h.OpenGuards = () => throw LibvirtShim.Messages.ShimFailure.WithoutDomain(
            "netlink socket(AF_NETLINK) failed: Protocol not supported (EPROTONOSUPPORT, errno 93)");
        string plain = TestDomains.Owned("plain", TestDomains.Uuid(2), TestDomains.Nics(2, 2, firstName: 10));

        Assert.Equal(0, h.Run("plain", "prepare", "begin", plain).ExitCode);
        Assert.Equal(0, h.Run("plain", "release", "end", plain).ExitCode);
        HookResult guarded = h.Run("web", "prepare", "begin", TestDomains.Owned("web", Web, Nics()));

        Assert.Equal(1, guarded.ExitCode);
        Assert.Equal("libvirt-shim: domain 'web': netlink socket(AF_NETLINK) failed: Protocol not supported (EPROTONOSUPPORT, errno 93)",
            guarded.Stderr.Trim());
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
        Assert.Contains("the guards (nf_tables netdev tables) could not be read", File.ReadAllText(h.Settings.LogFile));
    }

    /// <summary>A second prepare (the links kept) replaces the table in one transaction: still one table, the chains as asked now.</summary>
    [Fact]
    public void Preparing_again_replaces_the_guard_as_a_whole()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", TestDomains.Owned("web", Web, Nics())).ExitCode);
        TestNic[] changed = [Nics()[0] with { LinkAttributes = "guard='off'" }, Nics()[1], Nics()[2] with { LinkAttributes = "guard='ip'" }];

        Assert.Equal(0, h.Run("web", "prepare", "begin", TestDomains.Owned("web", Web, changed)).ExitCode);

        NftView nft = NftView.Of(h.Ns);
        Assert.Single(nft.Tables);
        Assert.Equal(["mvtap1", "mvtap2"], nft.EgressChains.Select(c => c.Device).Order());
        Assert.DoesNotContain(nft.Chains, c => c.Name.StartsWith("mvtap0", StringComparison.Ordinal));
    }

    /// <summary>A table of that name that is not the domain's is never touched: the start fails in one line and leaves no link.</summary>
    [Fact]
    public void A_table_of_the_same_name_that_is_not_ours_fails_the_start_and_is_left_alone()
    {
        using var h = HookHarness.Create();
        string name = TableOf(h, Web);
        Tool.Run("ip", "netns", "exec", h.Ns.Name, "nft", "add", "table", "netdev", name, "{ comment \"someone else's\"; }");
        string xml = TestDomains.Owned("web", Web, Nics());

        HookResult prepare = h.Run("web", "prepare", "begin", xml);

        Assert.Equal(1, prepare.ExitCode);
        Assert.Equal($"libvirt-shim: domain 'web': cannot guard its NICs: netdev table {name} exists and is not libvirt-shim's for this " +
            "domain (its comment is 'someone else's'); delete it if nothing needs it", prepare.Stderr.Trim());
        Assert.DoesNotContain(h.Ns.Links(), l => l.Kind == "macvtap");
        Assert.Equal(0, h.Run("web", "release", "end", xml).ExitCode);
        Assert.Equal("someone else's", Assert.Single(NftView.Of(h.Ns).Tables).Comment);
    }

    /// <summary>A prepare that fails after its guard is in place (the state cannot be written: a full disk) leaves no table behind.</summary>
    [Fact]
    public void A_failed_prepare_takes_its_guard_with_it()
    {
        using var h = HookHarness.Create();
        Directory.CreateDirectory(h.Settings.StateDir);
        Tool.Run("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", h.Settings.StateDir);
        try
        {
            Assert.Equal(0, h.Run("first", "prepare", "begin", TestDomains.Owned("first", TestDomains.Uuid(2), TestDomains.Nics(2, 1, 50))).ExitCode);
            Reliability.IdentityAndRollbackTests.FillUp(Path.Combine(h.Settings.StateDir, "filler"));

            HookResult prepare = h.Run("web", "prepare", "begin", TestDomains.Owned("web", Web, Nics()));

            Assert.Equal(1, prepare.ExitCode);
            Assert.Contains("No space left on device", prepare.Stderr);
            Assert.Empty(NftView.Of(h.Ns).Tables);
            Assert.DoesNotContain(h.Ns.Links(), l => l.Name.StartsWith("mvtap", StringComparison.Ordinal) && l.Name != "mvtap50");
        }
        finally
        {
            Tool.Run("umount", "-l", h.Settings.StateDir);
        }
    }

    /// <summary>
    /// What a prepare killed after its guard leaves (links and a table, no record): seeding with every fact deletes both; a guest
    /// seen running keeps its table, and its records get their guard back from the chains.
    /// </summary>
    [Fact]
    public void Seeding_deletes_an_orphan_guard_and_keeps_a_running_guests()
    {
        using var h = HookHarness.Create();
        Guid running = TestDomains.Uuid(2);
        string runningXml = TestDomains.Owned("db", running, [new TestNic(TestDomains.Mac(2, 0), "mvtap7", LinkAttributes: "guard='ip'")]);
        Assert.Equal(0, h.Run("db", "prepare", "begin", runningXml).ExitCode);
        h.WriteStatusFile("db", runningXml);
        Assert.Equal(0, h.Run("web", "prepare", "begin", TestDomains.Owned("web", Web, Nics())).ExitCode);
        using (ShimContext context = h.OpenContext())
        using (ShimSession session = ShimSession.Open(context))
        {
            foreach (NameRecord record in session.State.OfDomain(Web)) session.State.Remove(record.Name);   // as if killed before the commit
            foreach (NameRecord record in session.State.OfDomain(running)) session.State.Put(record with { Guard = GuardMode.Off });
            session.Commit();
        }

        using (ShimContext context = h.OpenContext())
        using (ShimSession session = ShimSession.Open(context))
        {
            SeedReport report = session.Reseed(session.State);
            Assert.Equal([TableOf(h, Web)], report.DeletedGuards);
        }

        NftView nft = NftView.Of(h.Ns);
        Assert.Equal([TableOf(h, running)], nft.Tables.Select(t => t.Name));
        Assert.Equal(GuardMode.Ip, Assert.Single(h.ReadState()!.OfDomain(running)).Guard);
        Assert.DoesNotContain(h.Ns.Links(), l => l.Name is "mvtap0" or "mvtap1" or "mvtap2");
    }

    /// <summary>Without every fact (the old state lost) a table whose guest is not seen running may be a start in flight: kept.</summary>
    [Fact]
    public void Seeding_without_every_fact_keeps_a_guard()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", TestDomains.Owned("web", Web, Nics())).ExitCode);
        File.Delete(Path.Combine(h.Settings.StateDir, "state"));

        using (ShimContext context = h.OpenContext())
        using (ShimSession session = ShimSession.Open(context))
            Assert.NotNull(session.Seeded);

        Assert.Equal([TableOf(h, Web)], NftView.Of(h.Ns).Tables.Select(t => t.Name));
        Assert.Equal([GuardMode.Ip, GuardMode.Mac, GuardMode.Off], h.ReadState()!.OfDomain(Web).OrderBy(r => r.Name).Select(r => r.Guard));
    }

    /// <summary>A NIC plugged or unplugged: the domain's whole guard replaced in one transaction, the other links' kept.</summary>
    [Fact]
    public void Replacing_the_guard_adds_and_removes_links_and_keeps_the_others()
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run("web", "prepare", "begin", TestDomains.Owned("web", Web, Nics())).ExitCode);
        LinkMarker marker = LinkMarker.For(h.Settings);
        using GuardTables tables = h.Ns.OpenGuardTables();
        List<LinkGuard> inForce;
        using (ShimContext context = h.OpenContext())
        using (ShimSession session = ShimSession.Open(context))
            inForce = GuardLinks.InForce(DomainOf(Nics()).OwnedNics, session.State, Web, GuardMode.Off);
        var added = new LinkGuard("mvtap2", MacAddress.TryParse(TestDomains.Mac(1, 2), out MacAddress mac) ? mac : default, GuardMode.Ip, []);

        GuardLinks.Apply(tables, marker, Web, "web", [.. inForce, added]);
        Assert.Equal(["mvtap0", "mvtap1", "mvtap2"], NftView.Of(h.Ns).EgressChains.Select(c => c.Device).Order());

        GuardLinks.Apply(tables, marker, Web, "web", [.. inForce.Where(g => g.Link != "mvtap0"), added]);
        NftView nft = NftView.Of(h.Ns);
        Assert.Single(nft.Tables);
        Assert.Equal(["mvtap1", "mvtap2"], nft.EgressChains.Select(c => c.Device).Order());

        GuardLinks.Apply(tables, marker, Web, "web", []);
        Assert.Empty(NftView.Of(h.Ns).Tables);
    }

    private static LibvirtShim.Domain.DomainDescription DomainOf(TestNic[] nics) =>
        LibvirtShim.Domain.DomainReader.Read(System.Xml.Linq.XDocument.Parse(TestDomains.Owned("web", Web, nics)));

    /// <summary>
    /// Why a guard must go with its link: on this kernel (6.18) a netdev chain outlives the device it is hooked to and hooks
    /// itself to the next device of that name, so a leftover would guard, and drop the frames of, another guest's link.
    /// </summary>
    [Fact]
    public void A_chain_outlives_its_link_and_guards_the_next_link_of_that_name()
    {
        using var h = HookHarness.Create();
        string xml = TestDomains.Owned("web", Web, [Nics()[1]]);
        Assert.Equal(0, h.Run("web", "prepare", "begin", xml).ExitCode);
        h.Ns.Ip("link", "del", "mvtap1");
        Assert.Equal(["mvtap1"], NftView.Of(h.Ns).EgressChains.Select(c => c.Device));

        MacAddress stranger = new(0x02_00_00_00_00_42);
        h.Ns.Ip("link", "add", "link", "uplink0", "name", "mvtap1", "address", stranger.ToString(), "type", "macvtap", "mode", "bridge");
        h.Ns.Ip("link", "set", "mvtap1", "addrgenmode", "none");
        h.Ns.Ip("link", "set", "mvtap1", "up");
        using var guest = TapGuest.Open(h.Ns, "mvtap1");
        using var lan = LanCapture.Open(h.Ns, "uplink0p");
        byte[] tag = TestFrames.NewTag();
        long before = NftView.Of(h.Ns).DroppedBy("mvtap1");
        guest.Send(TestFrames.Ping4(stranger, "192.0.2.50", "192.0.2.1", tag));

        // The write runs the egress hook before it returns: the count is final now.
        Assert.True(NftView.Of(h.Ns).DroppedBy("mvtap1") == before + 1,
            "the old chain did not drop the new link's frame: the kernel no longer re-attaches a chain to a new device of the same name " +
            "(update docs/guard.md)");
        Assert.DoesNotContain(lan.Frames, f => TestFrames.Carries(f, tag));
    }
}
