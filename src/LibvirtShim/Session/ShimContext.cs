using LibvirtShim.Configuration;
using LibvirtShim.State;
using LibvirtShim.Netlink;
using Serilog;

namespace LibvirtShim.Session;

/// <summary>
/// What a hook call or admin verb works with: the settings, the kernel's links, the log and the clock. Operations get the
/// parts they use; only hot-plug, which opens a session per step, and explain's preview take the context whole.
/// </summary>
internal sealed class ShimContext(
    ShimSettings settings, Func<LinkTable> openLinks, ILogger log, TimeProvider clock, IDisposable? ownedLog = null) : IDisposable
{
    private LinkTable? _links;
    private StateStore? _store;

    public ShimSettings Settings { get; } = settings;
    public ILogger Log { get; } = log;
    public TimeProvider Clock { get; } = clock;
    public NameScheme Scheme { get; } = new(settings.NamePrefix, settings.Capacity);
    public LinkMarker Marker { get; } = LinkMarker.For(settings);

    /// <summary>The rtnetlink socket, opened on first use.</summary>
    public LinkTable Links => _links ??= openLinks();

    public long Now => Clock.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>The state on disk, built once per call.</summary>
    public StateStore Store => _store ??= StoreFor(Settings);

    /// <summary>
    /// Where every state store is built. The hook and the commands that change the state wait LockTimeoutSeconds for the
    /// lock; a look that changes nothing (<paramref name="look"/>: explain, doctor) waits 5 s at most.
    /// </summary>
    public static StateStore StoreFor(ShimSettings settings, bool look = false) =>
        new(settings.StateDir, TimeSpan.FromSeconds(look ? Math.Min(5, settings.LockTimeoutSeconds) : settings.LockTimeoutSeconds));

    public void Dispose()
    {
        _links?.Dispose();
        ownedLog?.Dispose();
    }
}
