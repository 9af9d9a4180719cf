using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>
/// A program that runs beside a test step (ping, tcpdump): its output lines collected as they come, stopped with SIGINT
/// (so it prints its summary and flushes) and, if it does not exit within a bound, killed. Only this process is signalled.
/// </summary>
public sealed class BackgroundProcess : IDisposable
{
    private const int SIGINT = 2;
    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly TaskCompletionSource _stdoutDone = new();
    private readonly TaskCompletionSource _stderrDone = new();

    public BackgroundProcess(params string[] command)
    {
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string arg in command[1..]) start.ArgumentList.Add(arg);
        start.Environment["LC_ALL"] = "C";
        CommandLine = string.Join(' ', command);
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => { if (e.Data is null) _stdoutDone.TrySetResult(); else lock (_stdout) _stdout.Add(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is null) _stderrDone.TrySetResult(); else lock (_stderr) _stderr.Add(e.Data); };
        if (!_process.Start()) throw new InvalidOperationException($"could not start {CommandLine}");
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string CommandLine { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The exit status once it has exited.</summary>
    public int ExitCode => _process.ExitCode;

    public IReadOnlyList<string> Stdout
    {
        get { lock (_stdout) return _stdout.ToList(); }
    }

    public IReadOnlyList<string> Stderr
    {
        get { lock (_stderr) return _stderr.ToList(); }
    }

    public string Describe() =>
        $"`{CommandLine}`{(HasExited ? $" exited {_process.ExitCode}" : "")}\n    | " +
            string.Join("\n    | ", Stdout.Concat(Stderr.Select(l => "[stderr] " + l)));

    /// <summary>SIGINT, then a bounded wait for the exit and the end of its output; SIGKILL if it does not go.</summary>
    public void Stop()
    {
        if (!_process.HasExited)
        {
            kill(_process.Id, SIGINT);
            if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                _process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        Task.WhenAny(Task.WhenAll(_stdoutDone.Task, _stderrDone.Task), Task.Delay(TimeSpan.FromSeconds(3))).GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
