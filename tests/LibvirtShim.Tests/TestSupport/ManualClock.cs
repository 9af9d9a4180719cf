namespace LibvirtShim.Tests.TestSupport;

/// <summary>A clock the test moves by hand, for reservations that expire.</summary>
internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;
    public override DateTimeOffset GetUtcNow() => Now;
    public void Advance(TimeSpan by) => Now += by;
}
