using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>What the listener wrote in StateDir/listener.metrics ("key value" lines).</summary>
public sealed record ListenerFigures(IReadOnlyDictionary<string, string> Values)
{
    public long this[string key] => Values.TryGetValue(key, out string? v) && long.TryParse(v, out long n) ? n : 0;

    public static ListenerFigures? Read(string path)
    {
        try
        {
            var values = File.ReadAllLines(path).Where(l => l.Length > 0 && l[0] != '#' && l.Contains(' '))
                .ToDictionary(l => l[..l.IndexOf(' ')], l => l[(l.IndexOf(' ') + 1)..]);
            return new ListenerFigures(values);
        }
        catch (IOException)
        {
            return null;
        }
    }

    public override string ToString() => string.Join(", ", Values.Select(v => $"{v.Key} {v.Value}"));
}

/// <summary>
/// A daemon's listener (<c>libvirt-shim watch</c>), run where its hook runs (chrooted in the tree for libvirt-next, in the peer's
/// mount namespace for the peer) with a pid file in the suite's work directory, which every one of those sees at the same
/// path. Stopped (SIGTERM) or killed (SIGKILL) by that pid, never by name.
/// </summary>
public sealed class ShimListener : IDisposable
{
    private const int SIGKILL = 9, SIGTERM = 15;
    private static readonly TimeSpan StartBound = TimeSpan.FromSeconds(30);

    private readonly string[] _command;
    private readonly string _pidFile;
    private readonly string _figures;
    private BackgroundProcess? _process;

    /// <param name="name">For messages and the pid file's name ("main", "peer", "libvirt-next").</param>
    /// <param name="whereTheHookRuns">The command prefix that runs a program where the daemon's hook runs (empty for this host).</param>
    /// <param name="stateDir">The hook's state directory, seen from here.</param>
    /// <param name="workDir">The suite's work directory (the same path wherever the hook runs).</param>
    public ShimListener(string name, string[] whereTheHookRuns, string stateDir, string workDir)
    {
        Name = name;
        _pidFile = Path.Combine(workDir, $"watch-{name}.pid");
        _figures = Path.Combine(stateDir, "listener.metrics");
        // None of this process's descriptors (the flock the suite runs under, say) may stay open in a listener that outlives it.
        _command = ["bash", "-c", "for fd in /proc/self/fd/*; do fd=${fd##*/}; if ((fd > 2)); then eval \"exec $fd>&-\" 2>/dev/null || true; fi; " +
            "done; exec \"$@\"", "shim-listener", .. whereTheHookRuns, ShimStatus.Executable, "watch", "--pid-file", _pidFile];
    }

    public string Name { get; }

    /// <summary>The listener's pid (the process the pid file names), 0 when it is not running.</summary>
    public int Pid { get; private set; }

    /// <summary>When the last <see cref="Start"/> began and when the listener was connected and had reconciled.</summary>
    public DateTimeOffset StartedAt { get; private set; }
    public TimeSpan StartToReconciled { get; private set; }

    /// <summary>Starts it and waits (bounded) until it is connected to libvirt and has reconciled once.</summary>
    public ShimListener Start()
    {
        if (Pid != 0) throw new InvalidOperationException($"the {Name} listener runs already (pid {Pid})");
        File.Delete(_pidFile);
        StartedAt = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        _process = new BackgroundProcess(_command);
        Pid = Poll.Until(() => ReadPid(), pid => pid > 0 || _process.HasExited, $"the {Name} listener to write {_pidFile}", StartBound,
            _ => _process.Describe());
        if (Pid == 0) throw new InvalidOperationException($"the {Name} listener ended: {_process.Describe()}");
        Poll.Until(Figures, f => f is not null && f["pid"] == Pid && f["connected"] == 1 && f["reconciles"] >= 1,
            $"the {Name} listener (pid {Pid}) to connect and reconcile", StartBound, f => $"{f}\n{_process.Describe()}");
        StartToReconciled = watch.Elapsed;
        return this;
    }

    public ListenerFigures? Figures() => ListenerFigures.Read(_figures);

    /// <summary>SIGKILL, as a crash would end it; waits (bounded) until it is gone.</summary>
    public void Kill() => Signal(SIGKILL);

    /// <summary>Restarts a listener that was killed or stopped.</summary>
    public ShimListener Restart()
    {
        _process?.Dispose();
        _process = null;
        Pid = 0;
        return Start();
    }

    public string Describe() => _process?.Describe() ?? $"the {Name} listener is not running";

    public void Dispose()
    {
        if (Pid != 0) Signal(SIGTERM);
        _process?.Dispose();
        _process = null;
    }

    private void Signal(int signal)
    {
        int pid = Pid;
        if (pid == 0) return;
        kill(pid, signal);
        Poll.Until(() => !Directory.Exists($"/proc/{pid}"), $"the {Name} listener (pid {pid}) to end", TimeSpan.FromSeconds(20));
        Pid = 0;
    }

    private int ReadPid() => File.Exists(_pidFile) && int.TryParse(File.ReadAllText(_pidFile).Trim(), out int pid) ? pid : 0;

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
