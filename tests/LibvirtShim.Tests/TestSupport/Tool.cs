using System.Diagnostics;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>Runs a command-line tool to completion, capturing its output.</summary>
internal static class Tool
{
    public static string Run(string file, params string[] args)
    {
        (int exitCode, string output, string error) = Execute(file, args);
        if (exitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {exitCode}: {error.Trim()}");
        return output;
    }

    public static (int ExitCode, string Error) TryRun(string file, params string[] args)
    {
        (int exitCode, _, string error) = Execute(file, args);
        return (exitCode, error);
    }

    private static (int ExitCode, string Output, string Error) Execute(string file, string[] args)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args) start.ArgumentList.Add(arg);

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output, error.Result);
    }
}
