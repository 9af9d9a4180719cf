
namespace LibvirtShim.Netlink;

/// <summary>The answer to one request of a batch: its error (null = success) and the link the kernel sent back, if any.</summary>
internal readonly record struct LinkAnswer(NetlinkError? Error, Link? Link);

/// <summary>Runs one request per item, <see cref="RouteSocket.MaxBatch"/> to a send, and lines the answers up with the items.</summary>
internal static class LinkBatch
{
    private const int BytesPerRequestEstimate = 128;

    /// <summary>
    /// One request per item; socket failures are rethrown naming <paramref name="operation"/> and the items of the
    /// chunk under way (<paramref name="subject"/> names one item, e.g. its link name).
    /// </summary>
    public static LinkAnswer[] Run<T>(RouteSocket socket, IReadOnlyList<T> items, RequestWriter<T> write, string operation, Func<T, string> subject)
    {
        var answers = new LinkAnswer[items.Count];
        for (int start = 0; start < items.Count; start += RouteSocket.MaxBatch)
        {
            int count = Math.Min(RouteSocket.MaxBatch, items.Count - start);
            try
            {
                RunChunk(socket, items, start, count, write).CopyTo(answers, start);
            }
            catch (NetlinkException e)
            {
                throw e.During(Describe(operation, items, start, count, subject));
            }
        }
        return answers;
    }

    private static string Describe<T>(string operation, IReadOnlyList<T> items, int start, int count, Func<T, string> subject) =>
        count == 1 ? $"{operation} {subject(items[start])}"
        : $"{operation} of {count} links, {subject(items[start])} to {subject(items[start + count - 1])}";

    private static LinkAnswer[] RunChunk<T>(RouteSocket socket, IReadOnlyList<T> items, int start, int count, RequestWriter<T> write)
    {
        uint first = socket.ReserveSequences(count);
        var writer = new NetlinkWriter(count * BytesPerRequestEstimate);
        for (int i = 0; i < count; i++)
            write(ref writer, unchecked(first + (uint)i), items[start + i]);

        var links = new Link?[count];
        NetlinkError?[] errors = socket.Exchange(writer.Written, first, count,
            (request, message) => links[request] = LinkParser.TryRead(message) ?? links[request]);

        var answers = new LinkAnswer[count];
        for (int i = 0; i < count; i++) answers[i] = new LinkAnswer(errors[i], links[i]);
        return answers;
    }
}
