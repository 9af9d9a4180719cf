using LibvirtShim.Configuration;
using LibvirtShim.Naming;
using LibvirtShim.Netlink;
using Serilog;

namespace LibvirtShim.Lifecycle;

/// <summary>What every operation works with: the settings, the kernel's links, the log and the clock.</summary>
internal sealed class ShimContext(ShimSettings settings, Func<LinkTable> openLinks, ILogger log, TimeProvider clock, IDisposable? ownedLog = null) : IDisposable
{
    private LinkTable? _links;

    public ShimSettings Settings { get; } = settings;
    public ILogger Log { get; } = log;
    public TimeProvider Clock { get; } = clock;
    public NameScheme Scheme { get; } = new(settings.NamePrefix, settings.Capacity);
    public LinkMarker Marker { get; } = LinkMarker.For(settings);

    /// <summary>The rtnetlink socket, opened on first use.</summary>
    public LinkTable Links => _links ??= openLinks();

    public long Now => Clock.GetUtcNow().ToUnixTimeSeconds();

    public StateStore Store => new(Settings.StateDir, TimeSpan.FromSeconds(Settings.LockTimeoutSeconds));

    public void Dispose()
    {
        _links?.Dispose();
        ownedLog?.Dispose();
    }
}
