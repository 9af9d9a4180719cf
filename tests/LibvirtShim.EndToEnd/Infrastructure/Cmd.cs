using System.Diagnostics;
using System.Text;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>What a finished command printed and how it ended.</summary>
public sealed record CmdResult(string CommandLine, int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed, bool TimedOut)
{
    public bool Ok => ExitCode == 0 && !TimedOut;

    /// <summary>Both streams, for messages.</summary>
    public string Output => (Stdout + (Stderr.Length > 0 ? "\n[stderr]\n" + Stderr : "")).Trim();

    public string Describe() =>
        $"`{CommandLine}` {(TimedOut ? "timed out" : $"exited {ExitCode}")} after {Elapsed.TotalSeconds:0.00}s\n{Indent(Output)}";

    public CmdResult MustSucceed(string? what = null)
    {
        if (!Ok) throw new CommandFailedException($"{(what is null ? "" : what + ": ")}{Describe()}");
        return this;
    }

    private static string Indent(string text) =>
        string.Join('\n', text.Split('\n').Select(l => "    | " + l));
}

public sealed class CommandFailedException(string message) : Exception(message);

/// <summary>Runs a program with arguments (no shell), bounded in time: on timeout the whole process tree is killed.</summary>
public static class Cmd
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(120);

    public static CmdResult Run(string file, params string[] args) => RunAsync(file, args).GetAwaiter().GetResult();

    public static CmdResult Run(string file, IEnumerable<string> args, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? env = null, string? stdin = null) =>
        RunAsync(file, args, timeout, env, stdin).GetAwaiter().GetResult();

    public static async Task<CmdResult> RunAsync(string file, IEnumerable<string> args, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? env = null, string? stdin = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        // virsh and ip print nothing locale-dependent we parse, but be sure.
        start.Environment["LC_ALL"] = "C";
        if (env is not null)
        {
            foreach (var (key, value) in env) start.Environment[key] = value;
        }
        string commandLine = string.Join(' ', new[] { file }.Concat(start.ArgumentList).Select(Quote));

        var watch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = start };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var stdoutDone = new TaskCompletionSource();
        var stderrDone = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) =>
            { if (e.Data is null) stdoutDone.TrySetResult(); else lock (stdout) stdout.Append(e.Data).Append('\n'); };
        process.ErrorDataReceived += (_, e) =>
            { if (e.Data is null) stderrDone.TrySetResult(); else lock (stderr) stderr.Append(e.Data).Append('\n'); };
        if (!process.Start()) throw new InvalidOperationException($"could not start {file}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            if (stdin is not null) await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The program exited without reading its input.
        }

        bool timedOut = false;
        using (var cts = new CancellationTokenSource(timeout ?? DefaultTimeout))
        {
            try
            {
                await WaitForExitOnly(process, cts.Token);
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                await WaitForExitOnly(process, CancellationToken.None);
            }
        }
        // A daemon started by the command may keep a copy of the pipes: do not wait for their end forever.
        await Task.WhenAny(Task.WhenAll(stdoutDone.Task, stderrDone.Task), Task.Delay(TimeSpan.FromSeconds(3)));
        watch.Stop();
        string o, e2;
        lock (stdout) o = stdout.ToString();
        lock (stderr) e2 = stderr.ToString();
        return new CmdResult(commandLine, timedOut ? -1 : process.ExitCode, o, e2, watch.Elapsed, timedOut);
    }

    /// <summary>Waits for the process itself, not for the end of its redirected streams.</summary>
    private static async Task WaitForExitOnly(Process process, CancellationToken token)
    {
        while (!process.HasExited)
        {
            token.ThrowIfCancellationRequested();
            await Task.Delay(20, CancellationToken.None);
        }
    }

    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,@+%".Contains(c)) ? arg : "'" + arg.Replace("'", "'\\''") + "'";
}
