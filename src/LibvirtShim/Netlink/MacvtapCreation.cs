using LibvirtShim.Net;

namespace LibvirtShim.Netlink;

/// <summary>
/// One <see cref="LinkTable.CreateMacvtaps"/> call, in three batched rounds:
/// create (EXCL, by name), look up by name and check the link is ours, set the alias by ifindex.
/// The kernel ignores IFLA_IFALIAS at creation, and a name can belong to someone else after a failed create,
/// so the alias is only ever set through an ifindex this call has checked.
/// </summary>
internal sealed class MacvtapCreation(RouteSocket socket, IReadOnlyList<MacvtapRequest> requests)
{
    private readonly LinkOutcome[] _outcomes = new LinkOutcome[requests.Count];

    public LinkOutcome[] Run()
    {
        List<int> created = Create();
        List<(int Request, Link Link)> verified = LookUp(created);
        SetAliases(verified);
        return _outcomes;
    }

    /// <summary>Round 1: RTM_NEWLINK CREATE|EXCL per request. Returns the requests the kernel created.</summary>
    private List<int> Create()
    {
        LinkAnswer[] answers = LinkBatch.Run<MacvtapRequest>(socket, requests, LinkMessages.NewMacvtap, "RTM_NEWLINK macvtap", r => LinkTable.Quote(r.Name));
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

    /// <summary>Round 3: RTM_NEWLINK by ifindex setting IFLA_IFALIAS.</summary>
    private void SetAliases(List<(int Request, Link Link)> verified)
    {
        (int, string)[] targets = verified.ConvertAll(v => (v.Link.Index, requests[v.Request].Alias)).ToArray();
        LinkAnswer[] answers = LinkBatch.Run<(int Index, string)>(socket, targets, LinkMessages.SetAlias, "RTM_NEWLINK alias", t => $"ifindex {t.Index}");
        for (int k = 0; k < verified.Count; k++)
        {
            (int i, Link link) = verified[k];
            _outcomes[i] = answers[k].Error is { } error
                ? LinkOutcome.Failure(error with { Detail = $"created as ifindex {link.Index} (group {link.Group}), but the alias was not set; the link was left in place" })
                : LinkOutcome.Success(link with { Alias = requests[i].Alias.Length == 0 ? null : requests[i].Alias });
        }
    }

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
            && (request.Mode == MacvtapMode.Passthru || link.Mac == request.Mac);
        if (ours) return null;
        return new NetlinkError(Errno.EEXIST, KernelMessage: null,
            Detail: $"after creation the name belongs to ifindex {link.Index} ('{link.Name}', {Describe(link)}), "
                + $"not to the link requested (kind {RtnetlinkProtocol.MacvtapKind}, lower {request.LowerIndex}, "
                + $"mode {request.Mode.Name()}, group {request.Group}, MAC {request.Mac})");
    }

    private static string Describe(Link link) =>
        $"kind {link.Kind ?? "none"}, lower {link.LowerIndex}, mode {link.Mode?.Name() ?? "none"}, group {link.Group}, MAC {link.Mac}";
}
