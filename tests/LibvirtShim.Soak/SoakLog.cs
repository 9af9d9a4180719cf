using System.Diagnostics;
using System.Text;

namespace LibvirtShim.Soak;

/// <summary>
/// The run's log: one line per step with its timings, each violation with the step and the seed, the summary; written to
/// standard output, to the test's output and to artifacts/soak-SEED.log (flushed line by line, so a run cut short keeps
/// what it did).
/// </summary>
public sealed class SoakLog : IDisposable
{
    private readonly StreamWriter _file;
    private readonly Stopwatch _run = Stopwatch.StartNew();

    public SoakLog(string repoRoot, ulong seed)
    {
        Directory.CreateDirectory(System.IO.Path.Combine(repoRoot, "artifacts"));
        Path = System.IO.Path.Combine(repoRoot, "artifacts", $"soak-{seed}.log");
        _file = new StreamWriter(Path, append: false, new UTF8Encoding(false)) { AutoFlush = true };
    }

    public string Path { get; }
    public TimeSpan Elapsed => _run.Elapsed;

    public void Line(string text)
    {
        string line = $"[{_run.Elapsed.TotalSeconds,8:0.0}s] {text}";
        _file.WriteLine(line);
        Console.Out.WriteLine("soak: " + line);
        Xunit.TestContext.Current.TestOutputHelper?.WriteLine(line);
    }

    public void Dispose() => _file.Dispose();
}
