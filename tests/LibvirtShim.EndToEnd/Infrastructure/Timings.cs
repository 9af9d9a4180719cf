using System.Diagnostics;
using System.Text;
using Xunit;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>Durations of the suite's set-up, each scenario and their steps; written out when the suite ends.</summary>
public sealed class TimingsBook
{
    private readonly List<string> _lines = [];
    private readonly Stopwatch _suite = Stopwatch.StartNew();

    public void Add(string line)
    {
        lock (_lines) _lines.Add(line);
    }

    public string Summary()
    {
        var text = new StringBuilder();
        text.AppendLine($"LibvirtShim end-to-end timings ({DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC)");
        lock (_lines)
        {
            foreach (string line in _lines) text.AppendLine(line);
        }
        text.AppendLine($"whole suite (set-up, scenarios, tear-down): {_suite.Elapsed.TotalSeconds:0.0}s");
        return text.ToString();
    }
}

/// <summary>
/// One scenario's narration: each step with the time it took, in the test's output (so a failure shows how far it
/// got), and the scenario's total in the suite's timings.
/// </summary>
public sealed class ScenarioLog : IDisposable
{
    private readonly string _title;
    private readonly TimingsBook _book;
    private readonly Stopwatch _watch = Stopwatch.StartNew();
    private readonly List<string> _steps = [];

    public ScenarioLog(string title, TimingsBook book)
    {
        _title = title;
        _book = book;
        Say($"scenario: {title}");
    }

    public void Say(string message) =>
        TestContext.Current.TestOutputHelper?.WriteLine($"[{_watch.Elapsed.TotalSeconds,7:0.00}s] {message}");

    public T Step<T>(string what, Func<T> action)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            return action();
        }
        finally
        {
            string line = $"{what}: {watch.Elapsed.TotalSeconds:0.00}s";
            _steps.Add(line);
            Say(line);
        }
    }

    public void Step(string what, Action action) => Step(what, () => { action(); return 0; });

    public async Task<T> StepAsync<T>(string what, Func<Task<T>> action)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            return await action();
        }
        finally
        {
            string line = $"{what}: {watch.Elapsed.TotalSeconds:0.00}s";
            _steps.Add(line);
            Say(line);
        }
    }

    public void Dispose()
    {
        _watch.Stop();
        Say($"scenario took {_watch.Elapsed.TotalSeconds:0.00}s");
        var text = new StringBuilder($"{_title}: {_watch.Elapsed.TotalSeconds:0.0}s");
        foreach (string step in _steps) text.Append("\n    ").Append(step);
        _book.Add(text.ToString());
    }
}
