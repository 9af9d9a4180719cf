using System.Diagnostics;
using System.Text;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>
/// Every "file or -" input (adopt, explain) goes through the hook's own reader: the same size bound, strict UTF-8, and
/// a FIFO or device where a file is expected refused at once; no call waits forever. Run in a network namespace,
/// since adopt seeds the state.
/// </summary>
[Collection(Reliability.ProcessHeavy.Name)]
public class InputBoundTests
{
    private static readonly string Direct = File.ReadAllText(SampleFiles.Recording("mixed01-lifecycle/01-mixed01-prepare-begin.xml"));

    private static HookResult RunWithStdin(HookHarness h, byte[] stdin, params string[] args)
    {
        using Process process = h.StartProcess(args);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        try
        {
            process.StandardInput.BaseStream.Write(stdin);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
        }
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(1)), "the call did not finish");
        return new HookResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Invalid UTF-8 on stdin is refused as the hook refuses it, not replaced by U+FFFD and adopted.</summary>
    [Theory]
    [InlineData("adopt")]
    [InlineData("explain")]
    public void InvalidUtf8OnStdinIsRefused(string verb)
    {
        using var h = HookHarness.Create();
        byte[] xml = Encoding.UTF8.GetBytes(Direct.Replace("<name>", "<description>\u00e9</description><name>", StringComparison.Ordinal));
        int at = Array.IndexOf(xml, (byte)0xC3);
        xml[at] = 0xFF;

        HookResult r = RunWithStdin(h, xml, verb, "-");

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("domain XML is not valid UTF-8", r.Stdout + r.Stderr);
        Assert.DoesNotContain("<domain", r.Stdout);
    }

    /// <summary>Input beyond the bound is not read to its end: the call stops at the bound and says so (64 MiB offered).</summary>
    [Theory]
    [InlineData("adopt")]
    [InlineData("explain")]
    public void StdinBeyondTheBoundIsNotReadToItsEnd(string verb)
    {
        using var h = HookHarness.Create();
        var (result, offered) = Offer64MiB(h, verb);
        Assert.True(offered < 64L * 1024 * 1024, "the whole input was read");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("domain XML is larger than 8388608 bytes", result.Stdout + result.Stderr);
    }

    private static (HookResult Result, long Offered) Offer64MiB(HookHarness h, string verb)
    {
        using Process process = h.StartProcess(verb, "-");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        byte[] chunk = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("<!-- padding padding padding -->", 32 * 1024)));
        long offered = 0;
        try
        {
            while (offered < 64L * 1024 * 1024)
            {
                process.StandardInput.BaseStream.Write(chunk);
                offered += chunk.Length;
            }
            process.StandardInput.Close();
        }
        catch (IOException)
        {
        }
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(1)));
        return (new HookResult(process.ExitCode, stdout.Result, stderr.Result), offered);
    }

    /// <summary>A FIFO or a device given as the file: one line at once, never a wait for a writer or an endless read.</summary>
    [Theory]
    [InlineData("adopt", "fifo")]
    [InlineData("explain", "fifo")]
    [InlineData("explain", "device")]
    [InlineData("adopt", "directory")]
    public void AFileThatIsNotARegularFileIsRefusedAtOnce(string verb, string kind)
    {
        using var h = HookHarness.Create();
        string file = kind switch
        {
            "fifo" => SpecialFiles.Fifo(Path.Combine(h.Root, "web1.xml")),
            "device" => "/dev/zero",
            _ => Directory.CreateDirectory(Path.Combine(h.Root, "web1.xml")).FullName,
        };
        HookResult r = RunWithStdin(h, [], verb, file);
        string what = kind switch { "fifo" => "a FIFO", "device" => "a character device", _ => "a directory" };
        Assert.Equal((1, $"libvirt-shim: {file} is {what}, not a regular file; refusing to use it\n"), (r.ExitCode, r.Stderr));
    }

    /// <summary>A FIFO among the definitions or status files does not hang the seeding of a hook call: it is skipped.</summary>
    [Fact]
    public void AFifoAmongTheDomainFilesDoesNotHangSeeding()
    {
        using var h = HookHarness.Create();
        SpecialFiles.Fifo(Path.Combine(h.Settings.LibvirtConfigDir, "ghost.xml"));
        SpecialFiles.Fifo(Path.Combine(h.Settings.LibvirtRunDir, "ghost.xml"));
        var guest = Reliability.Guest.Make("web", 3, 2, firstName: 10);

        HookResult prepare = Bounded.Run(() =>
            h.Run(guest.Name, "prepare", "begin", guest.Xml), TimeSpan.FromSeconds(30), "prepare seeding beside FIFOs");
        Assert.Equal((0, ""), (prepare.ExitCode, prepare.Stderr));
        Assert.Contains("ghost.xml is a FIFO, not a regular file", File.ReadAllText(h.Settings.LogFile));
    }

    /// <summary>
    /// seed on a missing state seeds once and prints what that seeding did: it seeded twice (once to open the state,
    /// once more as asked) and printed the second. The links of a prepare whose guest never ran are kept in doubt.
    /// </summary>
    [Fact]
    public void SeedOnAMissingStateSeedsOnceAndPrintsWhatItDid()
    {
        using var h = HookHarness.Create();
        var gone = Reliability.Guest.Make("gone", 4, 3, firstName: 40);
        Assert.Equal(0, h.Run(gone.Name, "prepare", "begin", gone.Xml).ExitCode);
        File.Delete(Path.Combine(h.Settings.StateDir, "state"));
        int before = h.Ns.Links().Count;

        HookResult seed = RunWithStdin(h, [], "seed");

        Assert.Equal(0, seed.ExitCode);
        Assert.Equal(1, System.Text.RegularExpressions.Regex.Count(File.ReadAllText(h.Settings.LogFile), "kept link mvtap40 "));
        int deleted = before - h.Ns.Links().Count;
        Assert.Equal($"seeded {h.ReadState()!.Count} names from 0 running and 0 defined domains; deleted {deleted} leaked links\n", seed.Stdout);
    }
}
