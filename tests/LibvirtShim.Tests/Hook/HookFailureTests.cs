using System.Text;
using LibvirtShim.Configuration;
using LibvirtShim.Devices;
using LibvirtShim.Hook;
using LibvirtShim.Logging;
using LibvirtShim.Messages;
using LibvirtShim.Tests.Operator;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Hook;

/// <summary>
/// Whatever goes wrong, a hook call ends with one line on stderr and the exit status its operation promises libvirt:
/// reconnect, start and started exit 0 (libvirt kills a guest whose reconnect fails), prepare, migrate and restore 1.
/// Values from argv and the XML are escaped on that line.
/// </summary>
public class HookFailureTests
{
    private static readonly string Xml = TestDomains.Owned("g1", TestDomains.Uuid(41), TestDomains.Nics(41, 1, firstName: 5));

    /// <summary>A stdin that fails to read (EIO, a directory, a closed descriptor).</summary>
    private sealed class FailingStream(Exception failure) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => 0; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw failure;
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static HookHost Host(TempTree t) => new(
        () => new ShimSettings
        {
            StateDir = t.Path("state"),
            LogFile = t.Path("shim.log"),
            LibvirtRunDir = t.Path("run"),
            LibvirtConfigDir = t.Path("etc")
        },
        () => throw new InvalidOperationException("no links in this test"),
        () => throw new InvalidOperationException("no guards in this test"),
        TimeProvider.System,
        ShimLog.Create,
        new TapNodes(t.Path("dev"), t.Path("sys")));

    private static HookResult Run(HookHost host, string domain, string operation, Stream stdin)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        string subOperation = operation is "release" or "stopped" ? "end" : "begin";
        int exit = new HookRunner(host).Run(new HookCall(domain, operation, subOperation, "-"), stdin, stdout, stderr);
        return new HookResult(exit, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("reconnect", 0, "; continuing without it")]
    [InlineData("started", 0, "; continuing without it")]
    [InlineData("prepare", 1, "")]
    [InlineData("migrate", 1, "")]
    public void AStdinReadErrorIsOneLineAndTheOperationsExitStatus(string operation, int exit, string tail)
    {
        using var t = new TempTree();
        HookResult r = Run(Host(t), "g1", operation, new FailingStream(new IOException("Input/output error")));
        Assert.Equal((exit, $"libvirt-shim: domain 'g1': cannot read the domain XML from stdin: Input/output error{tail}\n"), (r.ExitCode, r.Stderr));
    }

    [Fact]
    public void AStdinReadErrorOfACallWithNothingToDoIsNothing()
    {
        using var t = new TempTree();
        HookResult r = Run(Host(t), "g1", "stopped", new FailingStream(new IOException("Input/output error")));
        Assert.Equal((0, "", ""), (r.ExitCode, r.Stdout, r.Stderr));
    }

    /// <summary>The last guard: an exception nobody expected still ends as one line, and reconnect still exits 0.</summary>
    [Theory]
    [InlineData("reconnect", 0)]
    [InlineData("start", 0)]
    [InlineData("prepare", 1)]
    [InlineData("release", 1)]
    public void AnUnexpectedExceptionIsOneLineAndTheOperationsExitStatus(string operation, int exit)
    {
        using var t = new TempTree();
        HookResult r = Run(Host(t), "g1", operation, new FailingStream(new InvalidOperationException("surprise\nsecond line")));
        Assert.Equal((exit, "libvirt-shim: domain 'g1': internal error (InvalidOperationException): surprise\\x0asecond line\n"),
            (r.ExitCode, r.Stderr));
    }

    /// <summary>A newline in argv's domain name (or the XML's) cannot start a second line on stderr: virsh shows it, the log keeps it.</summary>
    [Theory]
    [InlineData("prepare", 1)]
    [InlineData("reconnect", 0)]
    public void ControlCharactersOfADomainNameAreEscapedOnStderr(string operation, int exit)
    {
        using var t = new TempTree();
        HookHost broken = Host(t) with { LoadSettings = () => throw SettingsLoader.Invalid("setting X='y' is wrong") };
        const string name = "evil\nlibvirt-shim: forged\r\u2028\u001b[2J";
        byte[] truncated = Encoding.UTF8.GetBytes("<domain><metadata xmlns:shim='urn:libvirt-shim:macvtap:1'>");
        HookResult unreadable = Run(Host(t), name, operation, new MemoryStream(truncated));
        HookResult settings = Run(broken, name, operation, new MemoryStream(Encoding.UTF8.GetBytes(Xml)));

        const string shown = "evil\\x0alibvirt-shim: forged\\x0d\\u2028\\x1b[2J";
        Assert.Equal(exit, unreadable.ExitCode);
        Assert.StartsWith($"libvirt-shim: domain '{shown}': domain XML is not well-formed", unreadable.Stderr);
        Assert.Equal((exit, $"libvirt-shim: domain '{shown}': setting X='y' is wrong\n"), (settings.ExitCode, settings.Stderr));
        Assert.All(new[] { unreadable.Stderr, settings.Stderr }, e => Assert.Equal(e.Length - 1, e.TrimEnd('\n').Length));
        Assert.All(new[] { unreadable.Stderr, settings.Stderr }, e => Assert.DoesNotContain(e.TrimEnd('\n'), Printable.NeedsEscape));
    }

    /// <summary>
    /// The one escaping function: failure lines and tables show a character alike; a value quoted from the XML stays raw
    /// until shown.
    /// </summary>
    [Fact]
    public void EveryPlaceEscapesAlike()
    {
        const string raw = "a\nb\r\tc\u0000\u007f\u0085\u2028\u2029d";
        const string shown = "a\\x0ab\\x0d\\x09c\\x00\\x7f\\x85\\u2028\\u2029d";
        Assert.Equal(shown, Printable.Escape(raw));
        Assert.Equal($"domain 'x': {shown}", ShimFailure.LineFor(LibvirtShim.Domain.DomainXml.Invalid(raw), "x"));
        Assert.Equal(raw, LibvirtShim.Domain.DomainReader.Shorten(raw));
        var table = new StringWriter();
        var printable = new PrintableWriter(table);
        printable.WriteLine(raw);
        printable.Write(raw[1]);
        printable.Write(raw);
        printable.WriteLine();
        Assert.Equal($"{shown}\n\\x0a{shown}\n", table.ToString());
    }

    /// <summary>
    /// The real executable with a directory as stdin (read fails with EISDIR): one line and no stack trace; reconnect
    /// exits 0, prepare 1; nothing aborts (exit 134).
    /// </summary>
    [Theory]
    [InlineData("reconnect", 0)]
    [InlineData("prepare", 1)]
    [InlineData("stopped", 0)]
    public void TheExecutableWithAStdinThatCannotBeReadExitsAsTheOperationPromises(string operation, int exit)
    {
        using var t = new TempTree();
        Directory.CreateDirectory(t.Path("stdin-dir"));
        var (file, prefix) = HookExecutable.Command();
        var env = new Dictionary<string, string>
        {
            ["LIBVIRT_SHIM_CONFIG"] = t.Write("libvirt-shim.json", "{}"),
            ["LIBVIRT_SHIM_STATEDIR"] = t.Path("state"),
            ["LIBVIRT_SHIM_LOGFILE"] = t.Path("shim.log"),
        };
        ProcessResult r = Operator.Run.Process("bash",
            ["-c", "exec \"$@\" < \"$0\"", t.Path("stdin-dir"), file, .. prefix, "hook", "g1", operation, "begin", "-"], env: env);

        Assert.Equal(exit, r.ExitCode);
        if (operation == "stopped")
        {
            Assert.Equal("", r.Stderr);
            return;
        }
        Assert.StartsWith("libvirt-shim: domain 'g1': cannot read the domain XML from stdin: ", r.Stderr);
        Assert.Single(r.Stderr.TrimEnd('\n').Split('\n'));
    }
}
