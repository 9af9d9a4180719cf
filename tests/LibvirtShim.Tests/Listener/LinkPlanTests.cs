using LibvirtShim.Domain;
using LibvirtShim.Libvirt;
using LibvirtShim.Listener;
using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Session;
using Xunit;

namespace LibvirtShim.Tests.Listener;

/// <summary>What the listener does for each state a guest can be in, and which links it touches: the pure parts.</summary>
public sealed class LinkPlanTests
{
    private static readonly LinkMarker Marker = new("host-a");
    private static readonly Guid Web1 = Guid.Parse("6d1c1a5e-1f6c-4a0e-9b55-3c2f0e3a7a11");
    private static readonly Guid Db1 = Guid.Parse("0b8f4ad6-2e5a-49a8-9bfb-6a0f1c2d3e44");

    [Theory]
    [InlineData((int)GuestState.Running, true)]
    [InlineData((int)GuestState.Blocked, true)]
    [InlineData((int)GuestState.PmSuspended, true)]
    [InlineData((int)GuestState.Paused, false)]
    [InlineData((int)GuestState.Shutdown, false)]
    [InlineData((int)GuestState.Crashed, false)]
    [InlineData((int)GuestState.Shutoff, null)]
    [InlineData((int)GuestState.NoState, null)]
    public void Links_are_up_exactly_while_the_vcpus_run(int state, bool? up) => Assert.Equal(up, GuestStates.LinksUp((GuestState)state));

    [Fact]
    public void A_state_number_this_build_does_not_know_leaves_the_links_alone() => Assert.Null(GuestStates.LinksUp((GuestState)42));

    [Theory]
    [InlineData((int)GuestState.Paused, 2, "paused (migration)")]      // an arriving migration, and a source at the switchover
    [InlineData((int)GuestState.Paused, 12, "paused (post-copy)")]     // a source after the post-copy switchover
    [InlineData((int)GuestState.Paused, 11, "paused (starting up)")]   // before the first start of the vCPUs
    [InlineData((int)GuestState.Running, 2, "running (migrated)")]
    [InlineData((int)GuestState.Running, 10, "running (post-copy)")]   // a destination once post-copy switched over
    [InlineData((int)GuestState.Running, 6, "running (migration canceled)")]
    [InlineData((int)GuestState.Paused, 99, "paused (reason 99)")]
    [InlineData((int)GuestState.Crashed, 1, "crashed (reason 1)")]
    public void The_log_says_the_state_and_its_reason_as_virsh_does(int state, int reason, string words) =>
        Assert.Equal(words, GuestStates.Describe((GuestState)state, reason));

    [Fact]
    public void The_status_files_words_are_libvirts_states()
    {
        foreach (GuestState state in Enum.GetValues<GuestState>()) Assert.Equal(state, GuestStates.Parse(state.Word()));
        Assert.Null(GuestStates.Parse("Running"));
        Assert.Null(GuestStates.Parse(null));
    }

    [Fact]
    public void A_running_guests_down_links_go_up_and_a_paused_guests_up_links_go_down()
    {
        GuestSnapshot web1 = Guest(Web1, "web1", GuestState.Running, "mvtap1", "mvtap2", "mvtap3");
        GuestSnapshot db1 = Guest(Db1, "db1", GuestState.Paused, "mvtap7", "mvtap8");
        var found = Found(Owned("mvtap1", 11, Web1, up: false), Owned("mvtap2", 12, Web1, up: true), Owned("mvtap3", 13, Web1, up: false),
            Owned("mvtap7", 17, Db1, up: true), Owned("mvtap8", 18, Db1, up: false));

        List<LinkChange> changes = LinkPlan.Plan([web1, db1], found, Marker);

        Assert.Equal([(11, true), (13, true), (17, false)], changes.Select(c => (c.Link.Index, c.Up)));
        Assert.Equal(["web1", "web1", "db1"], changes.Select(c => c.Guest.Name));
    }

    [Fact]
    public void Only_links_that_carry_the_guests_own_marks_are_touched()
    {
        GuestSnapshot web1 = Guest(Web1, "web1", GuestState.Running, "mvtap1", "mvtap2", "mvtap3", "mvtap4", "mvtap5");
        Link stranger = Owned("mvtap2", 12, Web1, up: false) with { Alias = null, Group = 0 };
        Link anotherDomains = Owned("mvtap3", 13, Db1, up: false);
        Link anotherInstances = Owned("mvtap4", 14, Web1, up: false, marker: new LinkMarker("host-b"));
        Link aliasWithoutGroup = Owned("mvtap5", 15, Web1, up: false) with { Group = 0 };
        var found = Found(Owned("mvtap1", 11, Web1, up: false), stranger, anotherDomains, anotherInstances, aliasWithoutGroup);

        Assert.Equal([11], LinkPlan.Plan([web1], found, Marker).Select(c => c.Link.Index));
    }

    [Fact]
    public void An_unlabelled_link_in_the_guests_group_is_its_own_and_follows_it()
    {
        // A prepare killed between create and settle: the group is the domain's, the alias is not set yet.
        Link unlabelled = Owned("mvtap1", 11, Web1, up: false) with { Alias = null };
        Assert.Single(LinkPlan.Plan([Guest(Web1, "web1", GuestState.Running, "mvtap1")], Found(unlabelled), Marker));
    }

    [Fact]
    public void A_link_found_under_an_alternative_name_is_not_the_one_the_guest_names()
    {
        Link other = Owned("mvtap9", 19, Web1, up: false);
        var found = new Dictionary<string, Link>(StringComparer.Ordinal) { ["mvtap1"] = other };
        Assert.Empty(LinkPlan.Plan([Guest(Web1, "web1", GuestState.Running, "mvtap1")], found, Marker));
    }

    [Fact]
    public void Links_of_a_guest_that_does_not_run_here_are_left_to_release_and_not_even_looked_up()
    {
        GuestSnapshot gone = Guest(Web1, "web1", GuestState.Shutoff, "mvtap1");
        Assert.Empty(LinkPlan.NamesToFind([gone]));
        Assert.Empty(LinkPlan.Plan([gone], Found(Owned("mvtap1", 11, Web1, up: true)), Marker));
    }

    [Fact]
    public void Names_are_looked_up_once_each_and_only_valid_ones()
    {
        GuestSnapshot web1 = Guest(Web1, "web1", GuestState.Running, "mvtap1", "mvtap1", "bad name");
        GuestSnapshot db1 = Guest(Db1, "db1", GuestState.Paused, "mvtap1", "mvtap2");
        Assert.Equal(["mvtap1", "mvtap2"], LinkPlan.NamesToFind([web1, db1]));
    }

    [Fact]
    public void A_link_two_guests_name_is_changed_at_most_once_and_only_for_its_owner()
    {
        GuestSnapshot web1 = Guest(Web1, "web1", GuestState.Running, "mvtap1");
        GuestSnapshot db1 = Guest(Db1, "db1", GuestState.Paused, "mvtap1");
        LinkChange change = Assert.Single(LinkPlan.Plan([db1, web1], Found(Owned("mvtap1", 11, Web1, up: false)), Marker));
        Assert.Equal(("web1", true), (change.Guest.Name, change.Up));
    }

    [Fact]
    public void Links_already_as_the_state_says_need_nothing_and_missing_ones_are_skipped()
    {
        GuestSnapshot web1 = Guest(Web1, "web1", GuestState.Paused, "mvtap1", "mvtap2");
        Assert.Empty(LinkPlan.Plan([web1], Found(Owned("mvtap1", 11, Web1, up: false)), Marker));
    }

    private static GuestSnapshot Guest(Guid uuid, string name, GuestState state, params string[] links) => new(uuid, name, state, 0, links);

    private static Link Owned(string name, int index, Guid domain, bool up, LinkMarker? marker = null)
    {
        marker ??= Marker;
        return new Link(index, name, "macvtap", 2, new MacAddress(0x5254_0000_0000UL | (uint)index), marker.Group(domain), marker.Alias(domain),
            up, MacvtapMode.Bridge);
    }

    private static Dictionary<string, Link> Found(params Link[] links) => links.ToDictionary(l => l.Name, StringComparer.Ordinal);
}
