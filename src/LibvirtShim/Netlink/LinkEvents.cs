using System.Text;
using static LibvirtShim.Netlink.RtnetlinkProtocol;

namespace LibvirtShim.Netlink;

/// <summary>What one <see cref="LinkEvents.Wait"/> heard.</summary>
internal enum LinkNews
{
    /// <summary>No announcement in the wake interval.</summary>
    Nothing,

    /// <summary>Announcements, read: what they said of the names asked about is in the call's results.</summary>
    Heard,

    /// <summary>The kernel dropped announcements (the receive buffer was full): whatever they said must be looked up again.</summary>
    Lost,
}

/// <summary>
/// The kernel's announcements of links (rtnetlink's RTNLGRP_LINK group) in the network namespace the socket was opened in:
/// which of the names asked about were made or changed (RTM_NEWLINK), and whether a link carrying a group was deleted (the
/// hook marks its links with one). Reading allocates nothing: each announced name is matched against the caller's set
/// through a span.
/// </summary>
internal sealed class LinkEvents : IDisposable
{
    private readonly RouteSocket _socket;
    private readonly MessageHandler _onMessage;
    private HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _watched;
    private ICollection<string>? _appeared;
    private bool _groupedLinkGone;

    private LinkEvents(RouteSocket socket)
    {
        _socket = socket;
        _onMessage = OnMessage;
    }

    /// <summary>Joins the group in the calling thread's network namespace; a <see cref="Wait"/> returns after <paramref name="wake"/> at most.</summary>
    public static LinkEvents Open(TimeSpan wake) => new(RouteSocket.OpenAnnouncements(Interop.Libc.RTNLGRP_LINK, wake));

    /// <summary>
    /// Waits for announcements (at most the wake interval). Adds to <paramref name="appeared"/> each name of
    /// <paramref name="watched"/> (an ordinal set; its own string) that an RTM_NEWLINK announced; <paramref name="groupedLinkGone"/>
    /// says whether an RTM_DELLINK announced a link with a group other than 0.
    /// </summary>
    public LinkNews Wait(HashSet<string> watched, ICollection<string> appeared, out bool groupedLinkGone)
    {
        _watched = watched.GetAlternateLookup<ReadOnlySpan<char>>();
        _appeared = appeared;
        _groupedLinkGone = false;
        Announcements heard = _socket.ReceiveAnnouncements(_onMessage);
        groupedLinkGone = _groupedLinkGone;
        _appeared = null;
        return heard switch
        {
            Announcements.None => LinkNews.Nothing,
            Announcements.Lost => LinkNews.Lost,
            _ => LinkNews.Heard,
        };
    }

    private void OnMessage(NetlinkMessage message)
    {
        if (message.Type is not (RTM_NEWLINK or RTM_DELLINK) || message.Payload.Length < IfInfoLength) return;
        foreach (NetlinkAttribute attribute in new NetlinkAttributeReader(message.Payload[IfInfoLength..]))
        {
            if (message.Type == RTM_NEWLINK && attribute.Type == IFLA_IFNAME) Watched(attribute.Value);
            else if (message.Type == RTM_DELLINK && attribute.Type == IFLA_GROUP && attribute.AsUInt32() != 0) _groupedLinkGone = true;
        }
    }

    /// <summary>A name (IFNAMSIZ bytes of UTF-8 at most, up to its NUL) looked up in the watched set.</summary>
    private void Watched(ReadOnlySpan<byte> value)
    {
        int end = value.IndexOf((byte)0);
        ReadOnlySpan<byte> name = end < 0 ? value : value[..end];
        if (name.Length > 64) return;
        Span<char> chars = stackalloc char[64];
        int length = Encoding.UTF8.GetChars(name, chars);
        if (_watched.TryGetValue(chars[..length], out string? known)) _appeared!.Add(known);
    }

    public void Dispose() => _socket.Dispose();
}
