using System.Diagnostics;
using Serilog;

namespace LibvirtShim.Logging;

/// <summary>Where a call gets its log: the host's log with the call's <see cref="CallContext"/> on every event.</summary>
internal static class CallLog
{
    /// <summary>The log of one call: every event through it carries operation, domain, UUID and elapsed time.</summary>
    public static ILogger For(ILogger log, string operation, string? domain, Guid? uuid, long startTimestamp) =>
        log.ForContext(new CallContext(operation, domain ?? "-", uuid, startTimestamp));

    /// <summary>The same, timed from when <paramref name="started"/> started (a running stopwatch).</summary>
    public static ILogger For(ILogger log, string operation, string? domain, Guid? uuid, Stopwatch started) =>
        For(log, operation, domain, uuid, Stopwatch.GetTimestamp() - started.ElapsedTicks);
}
