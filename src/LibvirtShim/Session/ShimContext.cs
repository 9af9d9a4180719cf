using LibvirtShim.Configuration;
using LibvirtShim.Devices;
using LibvirtShim.Netfilter;
using LibvirtShim.Netlink;
using LibvirtShim.State;
using Serilog;

namespace LibvirtShim.Session;

/// <summary>
/// What a hook call or admin verb works with: the settings, the kernel's links and the tap nodes libvirt opens for them, the
/// log and the clock. Operations get the parts they use; only hot-plug, which opens a session per step, and explain's
/// preview take the context whole.
/// </summary>
internal sealed class ShimContext(
    ShimSettings settings, Func<LinkTable> openLinks, Func<GuardTables> openGuards, TapNodes taps, ILogger log, TimeProvider clock,
    IDisposable? ownedLog = null) : IDisposable
{
    private LinkTable? _links;
    private GuardTables? _guards;
    private StateStore? _store;

    public ShimSettings Settings { get; } = settings;
    public ILogger Log { get; } = log;
    public TimeProvider Clock { get; } = clock;
    public NameScheme Scheme { get; } = new(settings.NamePrefix, settings.Capacity);
    public LinkMarker Marker { get; } = LinkMarker.For(settings);

    /// <summary>Where the tap nodes of the links are: <see cref="TapNodes.System"/> on a host.</summary>
    public TapNodes Taps { get; } = taps;

    /// <summary>The rtnetlink socket, opened on first use.</summary>
    public LinkTable Links => _links ??= openLinks();

    /// <summary>The netfilter socket, opened on first use: a call that guards no NIC never opens it.</summary>
    public GuardTables Guards => _guards ??= openGuards();

    /// <summary>The opener of the netfilter socket, for the operations that decide themselves whether they need it.</summary>
    public Func<GuardTables> OpenGuards => () => Guards;

    public long Now => Clock.GetUtcNow().ToUnixTimeSeconds();

    /// <summary>The state on disk, built once per call.</summary>
    public StateStore Store => _store ??= StoreFor(Settings);

    /// <summary>
    /// Where every state store is built. The lock to change the state waits LockTimeoutSeconds; the lock to read it (status,
    /// doctor, explain), 5 s at most.
    /// </summary>
    public static StateStore StoreFor(ShimSettings settings) => new(settings.StateDir, TimeSpan.FromSeconds(settings.LockTimeoutSeconds));

    public void Dispose()
    {
        _links?.Dispose();
        _guards?.Dispose();
        ownedLog?.Dispose();
    }
}
