using LibvirtShim.Netlink;
using Xunit;

namespace LibvirtShim.Tests.Netlink;

/// <summary>The socket layer under the link table: extended acks, sequence matching, chunked batches.</summary>
public sealed class RouteSocketTests : NetnsTest
{
    [Fact]
    public void A_policy_failure_carries_the_kernels_extended_ack_text()
    {
        using RouteSocket socket = Ns.InNamespace(RouteSocket.Open);
        string[] names = ["lower0", new string('x', 20), "peer0"];   // 20 bytes: over IFNAMSIZ, refused by the attribute policy

        LinkAnswer[] answers = LinkBatch.Run<string>(socket, names, LinkMessages.GetByName, "RTM_GETLINK", LinkTable.Quote);

        Assert.Equal(Lower, answers[0].Link?.Index);
        NetlinkError error = Assert.NotNull(answers[1].Error);
        Assert.Equal(Errno.ERANGE, error.Errno);
        Assert.Equal("Attribute failed policy validation", error.KernelMessage);
        Assert.Equal("Numerical result out of range (ERANGE, errno 34; kernel: Attribute failed policy validation)", error.Describe());
        Assert.Equal(PeerName, answers[2].Link?.Name);
    }

    [Fact]
    public void Answers_to_an_abandoned_batch_are_skipped_by_sequence_number()
    {
        using RouteSocket socket = Ns.InNamespace(RouteSocket.Open);
        uint stale = socket.ReserveSequences(1);
        var writer = new NetlinkWriter();
        LinkMessages.GetByName(ref writer, stale, "lower0");
        socket.Send(writer.Written);   // its answer stays queued, unread

        LinkAnswer[] answers = LinkBatch.Run<string>(socket, ["peer0"], LinkMessages.GetByName, "RTM_GETLINK", LinkTable.Quote);

        Assert.Equal(PeerName, Assert.Single(answers).Link?.Name);
    }

    [Fact]
    public void A_thousand_requests_go_out_in_chunks_without_overflowing_the_receive_buffer()
    {
        using RouteSocket socket = Ns.InNamespace(RouteSocket.Open);
        string[] names = Enumerable.Range(0, 1000).Select(i => i % 2 == 0 ? LowerName : $"missing{i}").ToArray();

        LinkAnswer[] answers = LinkBatch.Run<string>(socket, names, LinkMessages.GetByName, "RTM_GETLINK", LinkTable.Quote);

        for (int i = 0; i < names.Length; i++)
        {
            if (i % 2 == 0) Assert.Equal(Lower, answers[i].Link?.Index);
            else Assert.Equal(Errno.ENODEV, answers[i].Error?.Errno);
        }
    }
}
