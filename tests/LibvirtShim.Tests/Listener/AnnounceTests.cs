using LibvirtShim.Listener;
using LibvirtShim.Net;
using LibvirtShim.Netlink;
using LibvirtShim.Tests.Netlink;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Listener;

/// <summary>QEMU's announce, repeated by the listener when it brings a running guest's link up: the frame, and where it goes.</summary>
public sealed class AnnounceTests : NetnsTest
{
    [Fact]
    public void The_frame_is_qemus_self_announce_a_broadcast_rarp_request_from_the_mac()
    {
        Assert.True(MacAddress.TryParse("52:54:00:e2:93:01", out MacAddress mac));
        byte[] frame = new byte[RarpAnnounce.Length];
        RarpAnnounce.Write(mac, frame);

        byte[] guest = [0x52, 0x54, 0x00, 0xe2, 0x93, 0x01];
        byte[] expected =
        [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, .. guest, 0x80, 0x35,    // broadcast, from the MAC, RARP
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x03,             // Ethernet, IPv4, 6 and 4 bytes, reverse request
            .. guest, 0, 0, 0, 0, .. guest, 0, 0, 0, 0,                // sender and target: the MAC, no protocol address
            .. new byte[18],                                            // padding to 60 bytes
        ];
        Assert.Equal(expected, frame);
    }

    [Fact]
    public void An_up_link_sends_it_out_of_its_lower_device_and_a_down_link_sends_nothing()
    {
        MacvtapRequest[] requests = Requests(2, Lower, 77);
        requests[1] = requests[1] with { Up = false };
        Link[] links = Table.CreateMacvtaps(requests).Select(o => o.Created!.Value).ToArray();
        using MacAnnouncer announcer = Ns.InNamespace(MacAnnouncer.Open);
        using FrameWatch frames = FrameWatch.Open(Ns);

        Assert.Equal(Errno.None, announcer.Announce(links[0]));
        Assert.Equal(Errno.ENETDOWN, announcer.Announce(links[1]));

        Assert.True(frames.WaitUntil(f => f.From(links[0].Mac) >= 1, TimeSpan.FromSeconds(5)), frames.Summary());
        Assert.Equal(0, frames.From(links[1].Mac));
    }

    [Theory]
    [InlineData(true, (int)MacvtapMode.Bridge, true)]
    [InlineData(true, (int)MacvtapMode.Vepa, true)]
    [InlineData(true, (int)MacvtapMode.Passthru, false)]   // the kernel gave the link the lower device's MAC
    [InlineData(false, (int)MacvtapMode.Bridge, false)]    // a link taken down: the guest is not here
    public void Only_links_brought_up_are_announced_and_never_passthru_ones(bool up, int mode, bool announced)
    {
        var link = new Link(7, "mvtap7", "macvtap", 2, new MacAddress(0x5254_0000_0007UL), 1, "a", false, (MacvtapMode)mode);
        var state = up ? LibvirtShim.Domain.GuestState.Running : LibvirtShim.Domain.GuestState.Paused;
        var guest = new LibvirtShim.Libvirt.GuestSnapshot(Guid.NewGuid(), "web", state, 0, ["mvtap7"]);
        Assert.Equal(announced, MacAnnouncer.Announces(new LinkChange(guest, link, up)));
    }
}
