using System.Diagnostics;
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
