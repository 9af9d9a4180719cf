using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using LibvirtShim.Configuration;
using LibvirtShim.Hook;
using LibvirtShim.Logging;
using LibvirtShim.Messages;
using LibvirtShim.Tests.TestSupport;
using Serilog;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>The log: readable lines or compact JSON, every event with operation, domain, UUID and elapsed time; rotation; syslog.</summary>
public class LogTests
{
    private static readonly Guid Uuid = Guid.Parse("6d1c1a5e-1f6c-4a0e-9b55-3c2f0e3a7a11");

    private static ShimSettings Settings(TempTree t, Action<ShimSettings>? tweak = null)
    {
        var settings = new ShimSettings { LogFile = t.Path("log/shim.log"), StateDir = t.Path("state") };
        tweak?.Invoke(settings);
        SettingsValidator.Validate(settings);
        return settings;
    }

    private static void Write(ShimSettings settings, Action<ILogger> events, string operation = "prepare", string domain = "web1")
    {
        using var log = ShimLog.Create(settings);
        events(CallLog.For(log, operation, domain, Uuid, Stopwatch.GetTimestamp()));
    }

    [Fact]
    public void TextLinesAreReadableAndCarryOperationDomainUuidAndElapsedTime()
    {
        using var t = new TempTree();
        ShimSettings settings = Settings(t);
        Write(settings, log =>
        {
            log.Information("created {Created} of {Total} macvtaps", 2, 2);
            log.Warning("Name {Name} was recorded for {Holder}", "mvtap3", "domain 'db'");
        });

        string[] lines = File.ReadAllLines(settings.LogFile);
        Assert.Equal(2, lines.Length);
        var shape = new Regex(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d\d:\d\d \[(INF|WRN)\] "
            + @"prepare web1 6d1c1a5e-1f6c-4a0e-9b55-3c2f0e3a7a11 \d+(\.\d)?ms pid \d+: ");
        Assert.All(lines, line => Assert.Matches(shape, line));
        Assert.EndsWith(": created 2 of 2 macvtaps", lines[0]);
        Assert.EndsWith(": Name mvtap3 was recorded for domain 'db'", lines[1]);
    }

    [Fact]
    public void JsonIsOneCompactObjectPerEventWithTheSameProperties()
    {
        using var t = new TempTree();
        ShimSettings settings = Settings(t, s => s.LogFormat = "json");
        Write(settings, log =>
        {
            log.Information("created {Created} of {Total} macvtaps", 2, 2);
            log.Error(new InvalidOperationException("boom"), "failed: {Message}", "x");
        }, operation: "release");

        string[] lines = File.ReadAllLines(settings.LogFile);
        Assert.Equal(2, lines.Length);
        foreach (string line in lines)
        {
            using JsonDocument json = JsonDocument.Parse(line);
            JsonElement e = json.RootElement;
            Assert.Equal("release", e.GetProperty("Operation").GetString());
            Assert.Equal("web1", e.GetProperty("Domain").GetString());
            Assert.Equal(Uuid.ToString("D"), e.GetProperty("Uuid").GetString());
            Assert.True(e.GetProperty("ElapsedMs").GetDouble() >= 0);
            Assert.True(e.TryGetProperty("@t", out _) && e.TryGetProperty("@m", out _) && e.TryGetProperty("Pid", out _));
        }
        using JsonDocument error = JsonDocument.Parse(lines[1]);
        Assert.Equal("Error", error.RootElement.GetProperty("@l").GetString());
        Assert.Contains("boom", error.RootElement.GetProperty("@x").GetString());
    }

    [Fact]
    public void EveryEventOfAHookCallCarriesItsDomainUuidOperationAndElapsedTime()
    {
        using var h = HookHarness.Create();
        h.Settings.LogLevel = "Debug";
        var host = new HookHost(() => h.Settings, h.Ns.OpenLinkTable, h.Ns.OpenGuardTables, TimeProvider.System, ShimLog.Create, h.Devices.Taps);
        Guid web = TestDomains.Uuid(7);
        string xml = TestDomains.Owned("web", web, TestDomains.Nics(7, 2, firstName: 0));

        // The first call finds no state and seeds it (a warning from inside the operation), then creates the links.
        int exit = new HookRunner(host)
            .Run(new HookCall("web", "prepare", "begin", "-"), new MemoryStream(Encoding.UTF8.GetBytes(xml)), new StringWriter(), new StringWriter());
        Assert.Equal(0, exit);
        exit = new HookRunner(host).Run(new HookCall("web", "release", "end", "-"), new MemoryStream(Encoding.UTF8.GetBytes(xml)),
            new StringWriter(), new StringWriter());
        Assert.Equal(0, exit);

        string[] lines = File.ReadAllLines(h.Settings.LogFile);
        Assert.True(lines.Length >= 3, string.Join('\n', lines));
        Assert.All(lines, line => Assert.Matches(new Regex($@"\] (prepare|release) web {web:D} \d+(\.\d)?ms pid \d+: "), line));
        Assert.Contains(lines, l => l.Contains("[WRN] prepare web", StringComparison.Ordinal)
            && l.Contains("rebuilding it by seeding", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("[INF] prepare web", StringComparison.Ordinal)
            && l.EndsWith("created 2 of 2 macvtaps, up at once: no listener (libvirt-shim watch) has run since boot", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("[INF] release web", StringComparison.Ordinal)
            && l.Contains("deleted 2 macvtaps", StringComparison.Ordinal));
    }

    [Fact]
    public void TheLogRollsOverBySizeLikeLogrotateAndKeepsTheConfiguredNumberOfFiles()
    {
        using var t = new TempTree();
        ShimSettings settings = Settings(t, s =>
        {
            s.LogFileSizeLimitBytes = 4096;
            s.LogRetainedFiles = 3;
        });
        string padding = new('x', 150);
        // Each logger is what one hook process opens: the log rolls when a call finds it full.
        for (int call = 0; call < 40; call++)
            Write(settings, log => { for (int i = 0; i < 5; i++) log.Information("call {Call} event {Event} {Padding}", call, i, padding); });

        string[] logs = Directory.GetFiles(t.Path("log")).Where(f => !f.EndsWith(".lock", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToArray();
        Assert.Equal([settings.LogFile, settings.LogFile + ".1", settings.LogFile + ".2"], logs);
        int callBytes = File.ReadAllLines(settings.LogFile)[0].Length * 5 + 100;
        Assert.All(logs, f => Assert.True(new FileInfo(f).Length < 4096 + callBytes, $"{f}: {new FileInfo(f).Length} bytes"));
        Assert.Contains("call 39 event 4", File.ReadAllText(settings.LogFile));
        int newestRolled = int.Parse(Regex.Match(File.ReadAllLines(settings.LogFile + ".1")[^1], @"call (\d+) event").Groups[1].Value);
        int firstCurrent = int.Parse(Regex.Match(File.ReadAllLines(settings.LogFile)[0], @"call (\d+) event").Groups[1].Value);
        Assert.Equal(newestRolled + 1, firstCurrent);
    }

    [Fact]
    public void ConcurrentCallsRollTheLogOnceAndLoseNothingStillKept()
    {
        using var t = new TempTree();
        ShimSettings settings = Settings(t, s =>
        {
            s.LogFileSizeLimitBytes = 8192;
            s.LogRetainedFiles = 1000;
        });
        Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 8 }, call =>
            Write(settings, log =>
            {
                for (int i = 0; i < 10; i++) log.Information("call {Call} event {Event} {Padding}", call, i, new string('z', 100));
            }));

        var lines = Directory.GetFiles(t.Path("log")).Where(f => !f.EndsWith(".lock", StringComparison.Ordinal))
            .SelectMany(File.ReadAllLines).ToList();
        Assert.Equal(640, lines.Count);
        Assert.Equal(640, lines.Distinct().Count());
    }

    [Fact]
    public void SyslogGetsEachEventAsSyslog3WouldSendIt()
    {
        using var t = new TempTree();
        string socketPath = t.Path("log.sock");
        using var receiver = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        receiver.Bind(new UnixDomainSocketEndPoint(socketPath));
        receiver.ReceiveTimeout = 5000;
        ShimSettings settings = Settings(t, s =>
        {
            s.Syslog = true;
            s.SyslogSocket = socketPath;
            s.SyslogFacility = "local3";
        });

        Write(settings, log =>
        {
            log.Information("created {Created} of {Total} macvtaps", 2, 2);
            log.Error("failed: {Message}", "name is held\nby someone");
        });

        string first = Receive(receiver), second = Receive(receiver);
        int pid = Environment.ProcessId;
        // local3 = 19: 19 * 8 + 6 (info), 19 * 8 + 3 (err).
        Assert.Matches(new Regex(
            $@"^<158>[A-Z][a-z]{{2}} [ \d]\d \d\d:\d\d:\d\d libvirt-shim\[{pid}\]: prepare web1 {Uuid:D} \d+(\.\d)?ms: created 2 of 2 macvtaps$"),
            first);
        Assert.StartsWith("<155>", second);
        Assert.EndsWith("failed: name is held\\x0aby someone", second);
        Assert.True(File.Exists(settings.LogFile), "the file gets the events too");
    }

    [Fact]
    public void WithoutASyslogDaemonEventsGoToTheFileAlone()
    {
        using var t = new TempTree();
        string stale = t.Path("stale.sock");
        using (var gone = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified))
            gone.Bind(new UnixDomainSocketEndPoint(stale));   // the socket file stays, nobody reads it any more
        foreach (string path in new[] { t.Path("missing.sock"), stale })
        {
            ShimSettings settings = Settings(t, s =>
            {
                s.Syslog = true;
                s.SyslogSocket = path;
                s.LogFile = t.Path($"log/{Path.GetFileName(path)}.log");
            });
            Write(settings, log => log.Information("still logged"));
            Assert.Contains("still logged", File.ReadAllText(settings.LogFile));
        }
    }

    [Fact]
    public void AFullSyslogQueueDropsEventsInsteadOfBlockingTheHook()
    {
        using var t = new TempTree();
        string socketPath = t.Path("slow.sock");
        using var receiver = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        receiver.Bind(new UnixDomainSocketEndPoint(socketPath));   // never read
        ShimSettings settings = Settings(t, s =>
        {
            s.Syslog = true;
            s.SyslogSocket = socketPath;
        });
        string text = new('y', 1000);
        var clock = Stopwatch.StartNew();
        Write(settings, log => { for (int i = 0; i < 5000; i++) log.Information("event {I} {Text}", i, text); });
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Assert.Contains("event 4999", File.ReadAllText(settings.LogFile));
    }

    /// <summary>
    /// A control character in a domain name or any other value (CR, LF, a line separator, a terminal escape) is escaped
    /// in every line written, to the file and to syslog: no value can forge a log line. An exception's lines are indented.
    /// </summary>
    [Fact]
    public void NoValueCanStartALogLineOfItsOwn()
    {
        using var t = new TempTree();
        string socketPath = t.Path("log.sock");
        using var receiver = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        receiver.Bind(new UnixDomainSocketEndPoint(socketPath));
        receiver.ReceiveTimeout = 5000;
        ShimSettings settings = Settings(t, s =>
        {
            s.Syslog = true;
            s.SyslogSocket = socketPath;
        });
        const string forged = "web1\n2025-11-25 20:15:00.123 +00:00 [INF] prepare web9 forged\r\u2028\u001b[31m\u0085";

        Write(settings, log =>
        {
            log.Information("created {Name}", forged);
            log.Error(new InvalidOperationException("boom\n2025-11-25 20:15:00.123 +00:00 [INF] forged too"), "failed: {Message}", forged);
        }, domain: forged);

        string text = File.ReadAllText(settings.LogFile);
        string[] lines = text.TrimEnd('\n').Split('\n');
        var eventLine = new Regex(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d\d:\d\d \[(INF|ERR)\] prepare web1\\x0a2025-11-25 ");
        Assert.Equal(2, lines.Count(l => eventLine.IsMatch(l)));
        Assert.All(lines, l => Assert.True(eventLine.IsMatch(l) || l.StartsWith("    ", StringComparison.Ordinal), l));
        Assert.DoesNotContain(text.Replace("\n", ""), Printable.NeedsEscape);
        Assert.Contains("created web1\\x0a2025-11-25 20:15:00.123 +00:00 [INF] prepare web9 forged\\x0d\\u2028\\x1b[31m\\x85", lines[0]);
        Assert.Contains("\n    System.InvalidOperationException: boom\n    2025-11-25 20:15:00.123 +00:00 [INF] forged too\n", text);

        string first = Receive(receiver), second = Receive(receiver);
        Assert.All(new[] { first, second }, d => Assert.DoesNotContain(d, Printable.NeedsEscape));
        Assert.Contains("prepare web1\\x0a2025-11-25", first);
        Assert.Contains("(InvalidOperationException: boom\\x0a2025-11-25", second);
    }

    /// <summary>A FIFO where the log file belongs: the call goes on without the file log, never waiting for a reader.</summary>
    [Fact]
    public void AFifoAsTheLogFileNeverBlocksTheCall()
    {
        using var t = new TempTree();
        ShimSettings settings = Settings(t);
        SpecialFiles.Fifo(settings.LogFile);
        Bounded.Run(() => Write(settings, log => log.Information("into a FIFO")), TimeSpan.FromSeconds(20), "logging to a FIFO");
    }

    [Theory]
    [InlineData("SyslogFacility", "bogus", "must be one of kern, user, mail, daemon")]
    [InlineData("LogRetainedFiles", "0", "must be between 1 and 1000")]
    [InlineData("LogFileSizeLimitBytes", "100", "must be between 4096")]
    [InlineData("SyslogSocket", "dev/log", "must be an absolute path")]
    public void LogSettingsAreValidated(string name, string value, string problem)
    {
        using var t = new TempTree();
        string file = t.Write("settings.json", $"{{ \"{name}\": \"{value}\" }}");
        var e = Assert.Throws<ShimFailure>(() => LoadFrom(file));
        Assert.Contains($"setting {name}='{value}' {problem}", e.Message);
    }

    private static ShimSettings LoadFrom(string file) => SettingsLoader.Load(file, []);

    private static string Receive(Socket socket)
    {
        byte[] buffer = new byte[16384];
        int n = socket.Receive(buffer);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }
}
