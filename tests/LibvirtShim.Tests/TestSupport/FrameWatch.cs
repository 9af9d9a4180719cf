using LibvirtShim.Net;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>
/// Counts the Ethernet frames of a network namespace by source MAC: every frame sent or received on any of its links, the
/// way tcpdump would see them (<see cref="LanCapture.OpenAll"/>).
/// </summary>
internal sealed class FrameWatch : IDisposable
{
    private readonly LanCapture _capture;

    private FrameWatch(LanCapture capture) => _capture = capture;

    public static FrameWatch Open(NetNamespace ns) => new(LanCapture.OpenAll(ns));

    /// <summary>Frames seen so far with <paramref name="source"/> as their source MAC.</summary>
    public int From(MacAddress source) => Count(_capture.Frames, source);

    /// <summary>Reads frames until <paramref name="done"/> holds or <paramref name="bound"/> has passed; returns whether it held.</summary>
    public bool WaitUntil(Func<FrameWatch, bool> done, TimeSpan bound) => _capture.WaitUntil(_ => done(this), bound);

    public string Summary() => string.Join(", ", _capture.Frames.Where(f => f.Length >= 12).GroupBy(f => MacAddress.Read(f.AsSpan(6)))
        .Select(g => $"{g.Key}: {g.Count()}"));

    public void Dispose() => _capture.Dispose();

    private static int Count(IReadOnlyList<byte[]> frames, MacAddress source) =>
        frames.Count(f => f.Length >= 12 && MacAddress.Read(f.AsSpan(6)) == source);
}
