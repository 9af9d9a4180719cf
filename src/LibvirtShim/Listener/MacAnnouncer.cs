using LibvirtShim.Net;
using LibvirtShim.Netlink;

namespace LibvirtShim.Listener;

/// <summary>
/// Repeats QEMU's announce when the listener brings up the link of a guest whose vCPUs run here: one RARP from the link's MAC
/// (<see cref="RarpAnnounce"/>), sent out of the link. QEMU announces a guest's MAC as an incoming migration or a restore
/// completes, before libvirt says the vCPUs run; a link of the hook's is still down then, so that announce never left the host,
/// and a switch would go on sending the guest's frames to the port where it was until the guest spoke. Not for passthru
/// links: the kernel gives those the lower device's MAC.
/// </summary>
internal sealed class MacAnnouncer(PacketSocket socket) : IDisposable
{
    /// <summary>The socket it sends with; the errno when the kernel refuses one (the listener then only brings links up).</summary>
    public static MacAnnouncer Open() => new(PacketSocket.Open());

    /// <summary>Whether a link brought up for a guest gets an announce.</summary>
    public static bool Announces(LinkChange change) => change.Up && change.Link.Mode != MacvtapMode.Passthru;

    /// <summary>Sends the announce; the errno when it could not go (none when it went).</summary>
    public Errno Announce(Link link)
    {
        Span<byte> frame = stackalloc byte[RarpAnnounce.Length];
        RarpAnnounce.Write(link.Mac, frame);
        return socket.Send(link.Index, frame);
    }

    public void Dispose() => socket.Dispose();
}
