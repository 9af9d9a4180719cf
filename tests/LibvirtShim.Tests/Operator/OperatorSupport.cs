using System.Diagnostics;
using System.Text;
using LibvirtShim.Reports.Doctor;
using LibvirtShim.Tests.TestSupport;

namespace LibvirtShim.Tests.Operator;

internal sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
}

/// <summary>Runs programs and scripts for the operator tests: the shim's executable, bash scripts of hooks/ and packaging/.</summary>
internal static class Run
{
    public static ProcessResult Process(string file, IEnumerable<string> args, string? stdin = null,
        IDictionary<string, string>? env = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) start.Environment[k] = v;
        using Process process = System.Diagnostics.Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        try
        {
            if (stdin is not null) process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
        }
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish");
        }
        return new ProcessResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The libvirt-shim executable (the fresh NativeAOT artifact, else the JIT build) with <paramref name="args"/>.</summary>
    public static ProcessResult Shim(IEnumerable<string> args, string? stdin = null, IDictionary<string, string>? env = null)
    {
        var (file, prefix) = HookExecutable.Command();
        return Process(file, prefix.Concat(args), stdin, env);
    }

    public static ProcessResult Script(string relativePath, params string[] args) =>
        Process("bash", [Path.Combine(SampleFiles.RepositoryRoot, relativePath), .. args]);
}

/// <summary>A temporary directory, deleted on dispose.</summary>
internal sealed class TempTree : IDisposable
{
    public TempTree(string prefix = "shim-op-") => Root = Directory.CreateTempSubdirectory(prefix).FullName;

    public string Root { get; }

    public string Path(string relative) => System.IO.Path.Combine(Root, relative.TrimStart('/'));

    public string Write(string relative, string content, UnixFileMode? mode = null)
    {
        string path = Path(relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        if (mode is { } m) File.SetUnixFileMode(path, m);
        return path;
    }

    /// <summary>Every entry below the root, as "relative-path" plus " -> target" for symlinks, sorted.</summary>
    public List<string> Listing()
    {
        var entries = new List<string>();
        foreach (string entry in Directory.EnumerateFileSystemEntries(Root, "*", SearchOption.AllDirectories))
        {
            var info = new FileInfo(entry);
            string relative = System.IO.Path.GetRelativePath(Root, entry);
            entries.Add(info.LinkTarget is { } target ? $"{relative} -> {target}" : relative);
        }
        entries.Sort(StringComparer.Ordinal);
        return entries;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal static class FakeBinaries
{
    public const UnixFileMode Executable = (UnixFileMode)0b111_101_101;

    /// <summary>A file the installers and the doctor take for a libvirt-shim executable: ELF magic and the marker.</summary>
    public static string Shim(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        byte[] bytes = [0x7f, (byte)'E', (byte)'L', (byte)'F', 0, .. ShimIdentity.Marker, (byte)'\n'];
        File.WriteAllBytes(path, bytes);
        File.SetUnixFileMode(path, Executable);
        return path;
    }

    /// <summary>Someone else's hook: a shell script.</summary>
    public static string ForeignHook(string path, string tag = "someone else's hook")
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, $"#!/bin/sh\n# {tag}\nexit 0\n", Encoding.UTF8);
        File.SetUnixFileMode(path, Executable);
        return path;
    }
}
