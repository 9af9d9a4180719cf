using System.Globalization;
using System.Text;
using LibvirtShim.Messages;

namespace LibvirtShim.State;

/// <summary>
/// What the listener (<c>libvirt-shim watch</c>) has done since it started, as it keeps it in StateDir/listener.metrics
/// (<see cref="StateFile.ListenerMetrics"/>) for <c>status</c> and <c>doctor</c>: "key value" lines, replaced whole after each
/// change. Times are Unix seconds (0: never). Only believed while <see cref="ListenerLock"/> says a listener runs.
/// </summary>
internal sealed record ListenerMetrics(
    int Pid,
    long StartedAt,
    string Uri,
    bool Connected,
    long ConnectedSince,
    long Connections,
    long Events,
    long LinksSetUp,
    long LinksSetDown,
    long Reconciles,
    long LastReconcileAt,
    long Failures,
    string LastFailure,
    long Repairs = 0,
    long RepairFailures = 0,
    long Announces = 0,
    long AnnounceFailures = 0)
{
    private const int MaxBytes = 4096;

    public static ListenerMetrics Starting(int pid, long now, string uri) => new(pid, now, uri, false, 0, 0, 0, 0, 0, 0, 0, 0, "");

    public string Encode()
    {
        var text = new StringBuilder();
        text.Append("# libvirt-shim watch: what the listener has done since it started (libvirt-shim status shows it)\n");
        void Line(string key, object value) =>
            text.Append(key).Append(' ').Append(Convert.ToString(value, CultureInfo.InvariantCulture)).Append('\n');
        Line("pid", Pid);
        Line("started", StartedAt);
        Line("uri", OneLine(Uri));
        Line("connected", Connected ? 1 : 0);
        Line("connected_since", ConnectedSince);
        Line("connections", Connections);
        Line("events", Events);
        Line("links_set_up", LinksSetUp);
        Line("links_set_down", LinksSetDown);
        Line("reconciles", Reconciles);
        Line("last_reconcile", LastReconcileAt);
        Line("failures", Failures);
        Line("last_failure", OneLine(LastFailure));
        Line("repairs", Repairs);
        Line("repair_failures", RepairFailures);
        Line("announces", Announces);
        Line("announce_failures", AnnounceFailures);
        return text.ToString();
    }

    /// <summary>The figures in <paramref name="text"/>; null when it is not such a file (unknown keys are ignored, missing ones are 0).</summary>
    public static ListenerMetrics? Decode(string text)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            int space = line.IndexOf(' ');
            if (space <= 0) return null;
            values[line[..space]] = line[(space + 1)..];
        }
        if (!values.ContainsKey("pid")) return null;
        long Number(string key) => values.TryGetValue(key, out string? v) && long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture,
            out long n) ? n : 0;
        string Text(string key) => values.TryGetValue(key, out string? v) ? v : "";
        return new ListenerMetrics((int)Math.Clamp(Number("pid"), 0, int.MaxValue), Number("started"), Text("uri"), Number("connected") == 1,
            Number("connected_since"), Number("connections"), Number("events"), Number("links_set_up"), Number("links_set_down"),
            Number("reconciles"), Number("last_reconcile"), Number("failures"), Text("last_failure"), Number("repairs"), Number("repair_failures"),
            Number("announces"), Number("announce_failures"));
    }

    /// <summary>The figures the listener last wrote, or null when there are none to read (none, or not such a file).</summary>
    public static ListenerMetrics? Read(StateReadLease lease)
    {
        try
        {
            StateFileContent content = lease.Read(StateFile.ListenerMetrics, MaxBytes);
            return content.Bytes is { } bytes ? Decode(Encoding.UTF8.GetString(bytes)) : null;
        }
        catch (ShimFailure)
        {
            return null;
        }
    }

    /// <summary>Replaces the figures (see <see cref="StateFile.ListenerMetrics"/>: the listener's own file, written without the state lock).</summary>
    public void Write(StateFiles files) => files.Replace(StateFile.ListenerMetrics, Encoding.UTF8.GetBytes(Encode()));

    private static string OneLine(string text) => Printable.Escape(text.Length > 300 ? text[..300] + "..." : text);
}
