using System.Diagnostics;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace LibvirtShim.Logging;

/// <summary>
/// What every event of one call carries: the operation (a hook operation such as prepare, or an admin verb such as
/// seed), the domain's name and UUID ("-" when there is none) and the milliseconds since the call began.
/// </summary>
internal sealed class CallContext(string operation, string domain, Guid? uuid, long startTimestamp) : ILogEventEnricher
{
    public const string OperationProperty = "Operation";
    public const string DomainProperty = "Domain";
    public const string UuidProperty = "Uuid";
    public const string ElapsedProperty = "ElapsedMs";

    private readonly LogEventProperty _operation = new(OperationProperty, new ScalarValue(operation));
    private readonly LogEventProperty _domain = new(DomainProperty, new ScalarValue(domain.Length > 0 ? domain : "-"));
    private readonly LogEventProperty _uuid = new(UuidProperty, new ScalarValue(uuid is { } u && u != Guid.Empty ? u.ToString("D") : "-"));

    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        logEvent.AddOrUpdateProperty(_operation);
        logEvent.AddOrUpdateProperty(_domain);
        logEvent.AddOrUpdateProperty(_uuid);
        double elapsed = Math.Round(Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds, 1);
        logEvent.AddOrUpdateProperty(new LogEventProperty(ElapsedProperty, new ScalarValue(elapsed)));
    }
}

internal static class CallLog
{
    /// <summary>The log of one call: every event through it carries operation, domain, UUID and elapsed time.</summary>
    public static ILogger For(ILogger log, string operation, string? domain, Guid? uuid, long startTimestamp) =>
        log.ForContext(new CallContext(operation, domain ?? "-", uuid, startTimestamp));

    /// <summary>The same, timed from when <paramref name="started"/> started (a running stopwatch).</summary>
    public static ILogger For(ILogger log, string operation, string? domain, Guid? uuid, Stopwatch started) =>
        For(log, operation, domain, uuid, Stopwatch.GetTimestamp() - started.ElapsedTicks);
}
