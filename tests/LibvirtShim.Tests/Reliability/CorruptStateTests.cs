using System.Buffers.Binary;
using System.IO.Hashing;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Reliability;

/// <summary>
/// A state file that is truncated, random, from a future version or torn is detected, logged and rebuilt by seeding,
/// by whichever call comes next (a real hook process): never trusted, never a crash, nothing on stderr.
/// A torn state.new (a crash while writing the next state) is never read at all.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class CorruptStateTests
{
    private static readonly Guest Running = Guest.Make("running", 1, 6, firstName: 0);
    private static readonly Guest Next = Guest.Make("next", 2, 3, firstName: 20);

    public static TheoryData<string, string> Corruptions => new()
    {
        { "empty", "not a libvirt-shim state file" },
        { "random", "not a libvirt-shim state file" },
        { "zeros", "not a libvirt-shim state file" },
        { "magic-only", "not a libvirt-shim state file" },
        { "header-only", "state file is 0 bytes after its header, expected " },
        { "half", "(truncated or torn)" },
        { "last-byte-missing", "(truncated or torn)" },
        { "extra-bytes", "(truncated or torn)" },
        { "flipped-bit", "state file checksum does not match" },
        { "future-version", "state file version 3, this libvirt-shim reads versions 1 to 2" },
        { "version-zero", "state file version 0, this libvirt-shim reads versions 1 to 2" },
        { "length-4GiB", "(truncated or torn)" },
        { "records-overrun", "state file records are malformed" },
        { "trailing-garbage-checksummed", "state file has bytes after its last record" },
        { "sparse-3GiB", "larger than" },
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void ACorruptStateIsLoggedAndRebuiltByTheNextCall(string corruption, string logged)
    {
        using var h = HookHarness.Create();
        StartRunning(h);
        var expected = Reliability.RecordsOf(h.ReadState()!, Running);
        string statePath = Path.Combine(h.Settings.StateDir, "state");
        Corrupt(statePath, corruption);

        HookResult result = h.RunProcess(Next.Name, "prepare", "begin", Next.Xml);

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        string log = File.ReadAllText(h.Settings.LogFile);
        Assert.Contains("rebuilding it by seeding", log);
        Assert.Contains(logged, log);
        NameState state = Invariants.Hold(h, corruption, [Running.Uuid, Next.Uuid]);
        Assert.Equal(expected, Reliability.RecordsOf(state, Running));
        Assert.Equal(3, state.OfDomain(Next.Uuid).Count);
    }

    /// <summary>
    /// A record that cannot be used (its bytes check out, but its name is held twice, its holding is unknown, its name is
    /// not UTF-8) is skipped, saying why; the other records are kept and the state completed by seeding from them.
    /// </summary>
    [Theory]
    [InlineData("duplicate-record", "state file record 6 skipped: its name is held by an earlier record")]
    [InlineData("bad-holding", "state file record 0 skipped: unknown holding 99")]
    [InlineData("bad-utf8", "state file record 0 skipped: its name is not UTF-8")]
    public void ABadRecordIsSkippedAndTheOthersKept(string corruption, string logged)
    {
        using var h = HookHarness.Create();
        StartRunning(h);
        var expected = Reliability.RecordsOf(h.ReadState()!, Running);
        Corrupt(Path.Combine(h.Settings.StateDir, "state"), corruption);
        int logBefore = File.Exists(h.Settings.LogFile) ? File.ReadAllText(h.Settings.LogFile).Length : 0;

        HookResult result = h.RunProcess(Next.Name, "prepare", "begin", Next.Xml);

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        string log = File.ReadAllText(h.Settings.LogFile)[logBefore..];
        Assert.DoesNotContain("rebuilding it by seeding", log);
        Assert.Contains(logged, log);
        NameState state = Invariants.Hold(h, corruption, [Running.Uuid, Next.Uuid]);
        Assert.Equal(expected, Reliability.RecordsOf(state, Running));
        Assert.Equal(3, state.OfDomain(Next.Uuid).Count);
    }

    /// <summary>Every other kind of call meets a corrupt state the same way.</summary>
    [Theory]
    [InlineData("release", "end")]
    [InlineData("reconnect", "begin")]
    [InlineData("migrate", "begin")]
    [InlineData("started", "begin")]
    [InlineData("seed", "")]
    public void EveryCallRebuildsACorruptState(string operation, string subOperation)
    {
        using var h = HookHarness.Create();
        StartRunning(h);
        var expected = Reliability.RecordsOf(h.ReadState()!, Running);
        Corrupt(Path.Combine(h.Settings.StateDir, "state"), "random");
        string xml = Running.Xml.Replace("</devices>",
            $"<interface type='direct'><mac address='{TestDomains.Mac(1, 9)}'/><source dev='uplink0' mode='vepa'/><target dev='macvtap7'/>" +
            "</interface></devices>");

        HookResult result = operation == "seed"
            ? HookHarness.Finish(h.StartProcess("seed"), "")
            : h.RunProcess(Running.Name, operation, subOperation, xml);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Stderr);
        Assert.Contains("rebuilding it by seeding", File.ReadAllText(h.Settings.LogFile));
        NameState state = Invariants.Hold(h, operation, [Running.Uuid]);
        if (operation == "release") Assert.Empty(state.OfDomain(Running.Uuid));
        else Assert.Equal(expected, Reliability.RecordsOf(state, Running).Where(r => r.Holding == Holding.Created).ToList());
    }

    /// <summary>A crash while the next state was being written leaves state.new torn; the state itself is still used as it is.</summary>
    [Theory]
    [InlineData("random")]
    [InlineData("half")]
    [InlineData("empty")]
    public void ATornStateNewIsNeverRead(string corruption)
    {
        using var h = HookHarness.Create();
        StartRunning(h);
        string statePath = Path.Combine(h.Settings.StateDir, "state");
        string torn = Path.Combine(h.Settings.StateDir, "state.new");
        File.Copy(statePath, torn);
        Corrupt(torn, corruption);
        File.SetUnixFileMode(torn, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var before = h.ReadState()!.Records.OrderBy(r => r.Name).ToList();
        long logged = new FileInfo(h.Settings.LogFile).Length;

        HookResult result = h.RunProcess(Next.Name, "prepare", "begin", Next.Xml);

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        Assert.DoesNotContain("rebuilding it by seeding", File.ReadAllText(h.Settings.LogFile)[(int)logged..]);
        NameState state = Invariants.Hold(h, corruption, [Running.Uuid, Next.Uuid]);
        Assert.Equal(before, state.Records.Where(r => r.Domain == Running.Uuid).OrderBy(r => r.Name).ToList());
        Assert.False(File.Exists(torn), "state.new should have been replaced by the rename");
    }

    /// <summary>A state file that is missing while a torn state.new lies there: seeded, and state.new is not taken for it.</summary>
    [Fact]
    public void AMissingStateWithATornStateNewIsSeeded()
    {
        using var h = HookHarness.Create();
        StartRunning(h);
        var expected = Reliability.RecordsOf(h.ReadState()!, Running);
        string statePath = Path.Combine(h.Settings.StateDir, "state");
        File.Move(statePath, Path.Combine(h.Settings.StateDir, "state.new"));
        Corrupt(Path.Combine(h.Settings.StateDir, "state.new"), "half");

        HookResult result = h.RunProcess(Next.Name, "prepare", "begin", Next.Xml);

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        Assert.Contains("no state file yet", File.ReadAllText(h.Settings.LogFile));
        Assert.Equal(expected, Reliability.RecordsOf(Invariants.Hold(h, "missing state", [Running.Uuid, Next.Uuid]), Running));
    }

    /// <summary>A running guest with a libvirt macvtap and owned NICs, its state on disk.</summary>
    private static void StartRunning(HookHarness h)
    {
        Assert.Equal(0, h.Run(Running.Name, "prepare", "begin", Running.Xml).ExitCode);
        h.WriteStatusFile(Running.Name, Running.Xml);
    }

    internal static void Corrupt(string path, string how)
    {
        byte[] good = File.ReadAllBytes(path);
        byte[] bad = how switch
        {
            "empty" => [],
            "random" => System.Security.Cryptography.RandomNumberGenerator.GetBytes(4096),
            "zeros" => new byte[4096],
            "magic-only" => "LVSHIMST"u8.ToArray(),
            "header-only" => good[..24],
            "half" => good[..(good.Length / 2)],
            "last-byte-missing" => good[..^1],
            "extra-bytes" => [.. good, 0, 1, 2],
            "flipped-bit" => FlipBit(good, good.Length * 8 - 13),
            "future-version" => WithHeader(good, version: 3),
            "version-zero" => WithHeader(good, version: 0),
            "length-4GiB" => WithHeader(good, length: uint.MaxValue),
            "records-overrun" => Checksummed(WithPayloadU32(good, offset: 4, 1000)),
            "duplicate-record" => Checksummed(DuplicateFirstRecord(good)),
            "bad-holding" => Checksummed(WithPayloadByte(good, offset: 8 + 2 + "mvtap0".Length, 99)),
            "bad-utf8" => Checksummed(WithPayloadByte(good, offset: 8 + 2, 0xFF)),
            "trailing-garbage-checksummed" => Checksummed([.. good, 42]),
            "sparse-3GiB" => good,
            _ => throw new ArgumentException(how),
        };
        File.WriteAllBytes(path, bad);
        if (how == "sparse-3GiB")
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
            file.SetLength(3L << 30);
        }
    }

    private static byte[] FlipBit(byte[] file, int bit)
    {
        byte[] copy = (byte[])file.Clone();
        copy[bit / 8] ^= (byte)(1 << (bit % 8));
        return copy;
    }

    private static byte[] WithHeader(byte[] file, uint? version = null, uint? length = null)
    {
        byte[] copy = (byte[])file.Clone();
        if (version is { } v) BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(8), v);
        if (length is { } l) BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(12), l);
        return copy;
    }

    private static byte[] WithPayloadU32(byte[] file, int offset, uint value)
    {
        byte[] copy = (byte[])file.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(24 + offset), value);
        return copy;
    }

    private static byte[] WithPayloadByte(byte[] file, int offset, byte value)
    {
        byte[] copy = (byte[])file.Clone();
        copy[24 + offset] = value;
        return copy;
    }

    /// <summary>The first record twice (the count raised by one): every byte checks out, but one name is held twice.</summary>
    private static byte[] DuplicateFirstRecord(byte[] file)
    {
        var scheme = new NameScheme("mvtap", 8192);
        NameState state = StateCodec.Decode(file, scheme);
        NameRecord first = state.Records.First();
        var single = new NameState(scheme);
        single.Put(first);
        byte[] one = StateCodec.Encode(single);
        byte[] record = one[(24 + 8)..];
        byte[] payload = [.. file[24..], .. record];
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), (uint)state.Count + 1);
        return [.. file[..24], .. payload];
    }

    /// <summary>The payload length and checksum made right again, so that only the records themselves are wrong.</summary>
    internal static byte[] Checksummed(byte[] file)
    {
        byte[] copy = (byte[])file.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(12), (uint)(copy.Length - 24));
        BinaryPrimitives.WriteUInt64LittleEndian(copy.AsSpan(16), XxHash64.HashToUInt64(copy.AsSpan(24)));
        return copy;
    }
}
