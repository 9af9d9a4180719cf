using LibvirtShim.Net;

namespace LibvirtShim.Netlink;

/// <summary>
/// One <see cref="LinkTable.CreateMacvtaps"/> call, in three batched rounds:
/// create (EXCL, by name, down), look up by name and check the link is ours, then settle it by ifindex: IPv6 address
/// generation off, then alias and up (or down, as the request says), two messages of one round. The kernel ignores
/// IFLA_IFALIAS at creation, and a name can belong to someone else after a failed create, so the alias is only ever set
/// through an ifindex this call has checked.
/// <paramref name="beforeUp"/> runs between the lookup and the settling round when every link was created and checked: what
/// must be in place before a link is up (its guard) goes there; a failure it throws leaves every link down.
/// </summary>
internal sealed class MacvtapCreation(RouteSocket socket, IReadOnlyList<MacvtapRequest> requests, Action? beforeUp = null)
{
    private readonly LinkOutcome[] _outcomes = new LinkOutcome[requests.Count];

    public LinkOutcome[] Run()
    {
        List<int> created = Create();
        List<(int Request, Link Link)> verified = LookUp(created);
        if (verified.Count == requests.Count) beforeUp?.Invoke();
        Settle(verified);
        return _outcomes;
    }

    /// <summary>Round 1: RTM_NEWLINK CREATE|EXCL per request. Returns the requests the kernel created.</summary>
    private List<int> Create()
    {
        LinkAnswer[] answers = LinkBatch.Run<MacvtapRequest>(socket, requests, LinkMessages.NewMacvtap, "RTM_NEWLINK macvtap", r =>
            LinkTable.Quote(r.Name));
        var created = new List<int>(answers.Length);
        for (int i = 0; i < answers.Length; i++)
        {
            if (answers[i].Error is { } error) _outcomes[i] = LinkOutcome.Failure(error);
            else created.Add(i);
        }
        return created;
    }

    /// <summary>Round 2: RTM_GETLINK by name for the created ones; keeps those whose link matches the request.</summary>
    private List<(int Request, Link Link)> LookUp(List<int> created)
    {
        string[] names = created.ConvertAll(i => requests[i].Name).ToArray();
        LinkAnswer[] answers = LinkBatch.Run<string>(socket, names, LinkMessages.GetByName, "RTM_GETLINK", LinkTable.Quote);
        var verified = new List<(int, Link)>(created.Count);
        for (int k = 0; k < created.Count; k++)
        {
            int i = created[k];
            NetlinkError? problem = answers[k] switch
            {
                { Error: { } error } => error with { Detail = "created, then not found by name" },
                { Link: { } link } => Mismatch(requests[i], link),
                _ => throw NetlinkException.Malformed($"RTM_GETLINK '{names[k]}' acked without a link"),
            };
            if (problem is { } failure) _outcomes[i] = LinkOutcome.Failure(failure);
            else verified.Add((i, answers[k].Link!.Value));
        }
        return verified;
    }

    /// <summary>
    /// Round 3: per link, IPv6 address generation off, then alias and IFF_UP, in this order in one round (the kernel handles
    /// the messages of a send in order), so the link is never up with an address. EAFNOSUPPORT for the first means the
    /// link has no IPv6 at all (IPv6 disabled at boot, or an MTU below 1280): nothing to turn off.
    /// </summary>
    private void Settle(List<(int Request, Link Link)> verified)
    {
        var steps = new LinkSettlement[verified.Count * 2];
        for (int k = 0; k < verified.Count; k++)
        {
            (int i, Link link) = verified[k];
            steps[2 * k] = new LinkSettlement(link.Index, SettleStep.AddressGenerationOff, "");
            steps[2 * k + 1] = new LinkSettlement(link.Index, SettleStep.AliasAndUp, requests[i].Alias, requests[i].Up);
        }
        LinkAnswer[] answers = LinkBatch.Run<LinkSettlement>(socket, steps, LinkMessages.Settle, "RTM_NEWLINK settle", s => $"ifindex {s.Index}");
        for (int k = 0; k < verified.Count; k++)
        {
            (int i, Link link) = verified[k];
            NetlinkError? failure = answers[2 * k].Error is { Errno: not Errno.EAFNOSUPPORT } addressError
                ? addressError with { Detail = Unsettled(link, "IPv6 address generation could not be turned off") }
                : answers[2 * k + 1].Error is { } upError
                    ? upError with { Detail = Unsettled(link, "the alias was not set or it was not brought up") }
                    : null;
            _outcomes[i] = failure is { } error
                ? LinkOutcome.Failure(error)
                : LinkOutcome.Success(link with { Alias = requests[i].Alias.Length == 0 ? null : requests[i].Alias, IsUp = requests[i].Up });
        }
    }

    private static string Unsettled(Link link, string what) =>
        $"created as ifindex {link.Index} (group {link.Group}), but {what}; the link was left in place";

    /// <summary>
    /// Null when <paramref name="link"/> is the macvtap <paramref name="request"/> asked for. In passthru mode the kernel
    /// gives the macvtap the lower device's MAC whatever the request said, so the MAC is not compared there.
    /// </summary>
    internal static NetlinkError? Mismatch(MacvtapRequest request, Link link)
    {
        bool ours = link.Name == request.Name
            && link.Kind == RtnetlinkProtocol.MacvtapKind
            && link.LowerIndex == request.LowerIndex
            && link.Mode == request.Mode
            && link.Group == request.Group
            && (request.Mtu == 0 || link.Mtu == request.Mtu)
            && (request.Mode == MacvtapMode.Passthru || link.Mac == request.Mac)
            && (request.Mode != MacvtapMode.Source || Equals(link.SourceMacs, request.SourceMacs ?? MacAddressSet.Empty));
        if (ours) return null;
        return new NetlinkError(Errno.EEXIST, KernelMessage: null,
            Detail: $"after creation the name belongs to ifindex {link.Index} ('{link.Name}', {Describe(link)}), "
                + $"not to the link requested (kind {RtnetlinkProtocol.MacvtapKind}, lower {request.LowerIndex}, "
                + $"mode {request.Mode.Name()}, group {request.Group}, MAC {request.Mac})");
    }

    private static string Describe(Link link) =>
        $"kind {link.Kind ?? "none"}, lower {link.LowerIndex}, mode {link.Mode?.Name() ?? "none"}, group {link.Group}, MAC {link.Mac}";
}
