using System.Diagnostics;
using Xunit;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>Bounded waiting for a state, instead of sleeps.</summary>
public static class Poll
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Samples <paramref name="observe"/> until <paramref name="done"/> holds for the sample, and returns that sample;
    /// fails with <paramref name="what"/> and the last sample when the time is up.
    /// </summary>
    public static T Until<T>(Func<T> observe, Func<T, bool> done, string what, TimeSpan? timeout = null, Func<T, string>? show = null)
    {
        var watch = Stopwatch.StartNew();
        TimeSpan limit = timeout ?? DefaultTimeout;
        while (true)
        {
            T sample = observe();
            if (done(sample)) return sample;
            if (watch.Elapsed >= limit)
                Assert.Fail($"waited {limit.TotalSeconds:0}s for {what}; last seen: {(show is null ? sample?.ToString() : show(sample))}");
            Thread.Sleep(Interval);
        }
    }

    public static void Until(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        Until(condition, ok => ok, what, timeout);

    /// <summary>
    /// Checks that <paramref name="holds"/> keeps holding for <paramref name="duration"/> (sampled); returns how many
    /// samples were taken.
    /// </summary>
    public static int During(TimeSpan duration, Func<string?> holds, string what)
    {
        var watch = Stopwatch.StartNew();
        int samples = 0;
        do
        {
            samples++;
            if (holds() is { } broken) Assert.Fail($"{what} stopped holding after {watch.Elapsed.TotalSeconds:0.0}s: {broken}");
            Thread.Sleep(Interval);
        } while (watch.Elapsed < duration);
        return samples;
    }
}
