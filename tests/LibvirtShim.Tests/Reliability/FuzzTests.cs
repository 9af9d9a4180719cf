using System.Diagnostics;
using System.Text;
using System.Xml.Linq;
using LibvirtShim.Domain;
using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Reliability;

/// <summary>
/// Mutation fuzzing, bounded by iterations (SHIM_TEST_RELIABILITY_SCALE multiplies them), seeded (the seed is printed;
/// SHIM_TEST_RELIABILITY_SEED repeats a run). The XML reader (parse, read strictly and leniently, rewrite and read
/// the rewrite back) may only throw <see cref="ShimFailure"/>, with a one-line message; the state loader may
/// only throw <see cref="StateFormatException"/>, and whatever it accepts must be a consistent state that encodes
/// back to itself. A failure reports the seed, the iteration and the input in base64.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void TheDomainXmlReaderThrowsNothingButShimFailure()
    {
        List<byte[]> seeds = XmlSeeds();
        var random = new Random(Reliability.Seed(output, "XML fuzz"));
        var mutator = new XmlMutator(random, seeds);
        int iterations = Reliability.Iterations(60_000), accepted = 0, refused = 0;
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        TimeSpan mutating = TimeSpan.Zero;
        for (int i = 0; i < iterations; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            byte[] input = mutator.Next();
            mutating += Stopwatch.GetElapsedTime(t0);
            try
            {
                string outcome = ReadAndRewrite(input);
                accepted++;
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            }
            catch (ShimFailure e)
            {
                refused++;
                if (ShimFailure.LineFor(e).Any(Printable.NeedsEscape))
                    Assert.Fail(Failure("XML", i, input, $"a line shown with a control character: {ShimFailure.LineFor(e)}"));
                string kind = e.Message.Split(':', '(', '\'')[0].Trim();
                string key = "refused: " + (kind.Length > 60 ? kind[..60] : kind);
                outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
            }
            catch (Exception e)
            {
                Assert.Fail(Failure("XML", i, input, e.ToString()));
            }
        }
        output.WriteLine($"{iterations} inputs from {seeds.Count} seeds in {clock.Elapsed.TotalSeconds:0.0} s ({mutating.TotalSeconds:0.0} " +
            $"s making them): {accepted} read, {refused} refused with ShimFailure");
        foreach (var (outcome, count) in outcomes.OrderByDescending(kv => kv.Value).Take(25)) output.WriteLine($"  {count,6} x {outcome}");
        Assert.True(accepted > iterations / 20 && refused > iterations / 20, "the mutations should both keep and break documents");
    }

    [Fact]
    public void TheStateLoaderThrowsNothingButStateFormatExceptionAndAcceptsOnlyConsistentStates()
    {
        var random = new Random(Reliability.Seed(output, "state fuzz"));
        var scheme = new NameScheme("mvtap", 64);
        var seeds = Enumerable.Range(0, 24).Select(i => StateCodec.Encode(RandomState(random, scheme, records: i))).ToList();
        int iterations = Reliability.Iterations(200_000), accepted = 0, refused = 0;
        using var directory = new TempDirectory();
        var store = new StateStore(directory.Path, TimeSpan.FromSeconds(5));
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            byte[] input = MutateState(random, seeds[random.Next(seeds.Count)], seeds);
            try
            {
                NameState state = StateCodec.Decode(input, scheme);
                accepted++;
                CheckAccepted(state, scheme, input, i);
            }
            catch (StateFormatException)
            {
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail(Failure("state", i, input, e.ToString()));
            }
            if (i % 500 == 0)
            {
                // Through the store as a hook reads it: a result, never an exception.
                File.WriteAllBytes(store.StatePath, input);
                using StateLease lease = store.LockToChange();
                StateLoad load = lease.Load(scheme);
                if (!(load.State is not null ^ load.Problem is not null)) Assert.Fail(Failure("store", i, input, "neither a state nor a problem"));
            }
        }
        output.WriteLine($"{iterations} state files in {clock.Elapsed.TotalSeconds:0.0} s: {accepted} accepted, " +
            $"{refused} refused with StateFormatException");
        Assert.True(accepted > iterations / 50 && refused > iterations / 50, "the mutations should both keep and break state files");
    }

    /// <summary>Everything the hook does with a domain XML short of the kernel; returns what it found.</summary>
    private static string ReadAndRewrite(byte[] input)
    {
        XDocument document = DomainXml.Parse(input);
        DomainDescription lenient = DomainReader.ReadLenient(document);
        DirectNicConversion.Find(DomainReader.DomainElement(document)).ForEach(n => DirectNicConversion.Problem(n));
        DomainDescription domain = DomainReader.Read(document, out NicElements elements);
        if (lenient.OwnedNics.Count != domain.OwnedNics.Count) throw new InvalidOperationException("the lenient reading lost NICs of a valid domain");

        var rewriter = new DomainRewriter(document);
        for (int i = 0; i < domain.OwnedNics.Count; i++)
        {
            OwnedNic nic = domain.OwnedNics[i];
            rewriter.SetOwnedName(elements.Owned[i].Interface, "mvtap" + (nic.Mac.Value % 8192));
            if (nic.Source is not null) rewriter.SetOwnedSource(elements.Owned[i].Link, "uplink9");
        }
        for (int i = 0; i < domain.LibvirtMacvtaps.Count; i++)
        {
            if (domain.LibvirtMacvtaps[i] is { Lower: not null, ThroughNetwork: false }) rewriter.SetDirectSource(elements.Libvirt[i], "uplink9");
        }
        string rewritten = rewriter.Write();
        DomainDescription back = DomainReader.Read(DomainXml.Parse(Encoding.UTF8.GetBytes(rewritten)));
        if (back.Uuid != domain.Uuid || back.OwnedNics.Count != domain.OwnedNics.Count || back.LibvirtMacvtaps.Count != domain.LibvirtMacvtaps.Count)
            throw new InvalidOperationException("the rewritten XML does not read back as the same domain");
        return domain.OwnedNics.Count > 0 ? "read: owned NICs" : domain.LibvirtMacvtaps.Count > 0
            ? "read: libvirt macvtaps only" : "read: no macvtap";
    }

    private static void CheckAccepted(NameState state, NameScheme scheme, byte[] input, int iteration)
    {
        var problems = Invariants.Violations(state, [], new LibvirtShim.Session.LinkMarker("fuzz"), [])
            .Where(p => p.StartsWith("bitmap", StringComparison.Ordinal)).ToList();
        if (problems.Count > 0) Assert.Fail(Failure("state", iteration, input, string.Join("; ", problems)));
        if (!state.Records.All(r => InterfaceName.IsValid(r.Name) && Enum.IsDefined(r.Holding)) || state.Cursor >= scheme.Capacity)
            Assert.Fail(Failure("state", iteration, input, "accepted a record with an invalid name or holding, or a cursor out of range"));
        NameState again = StateCodec.Decode(StateCodec.Encode(state), scheme);
        if (!again.Records.OrderBy(r => r.Name).SequenceEqual(state.Records.OrderBy(r => r.Name)) || again.Cursor != state.Cursor)
            Assert.Fail(Failure("state", iteration, input, "an accepted state does not encode back to itself"));
    }

    private static string Failure(string what, int iteration, byte[] input, string problem) =>
        $"{what} fuzz iteration {iteration}: {problem}\ninput ({input.Length} bytes, base64): " +
            $"{Convert.ToBase64String(input.AsSpan(0, Math.Min(input.Length, 20_000)))}";

    /// <summary>Domain XMLs the hook meets: the samples, the recordings, the golden inputs and the corpus.</summary>
    private static List<byte[]> XmlSeeds()
    {
        string tests = Path.Combine(SampleFiles.RepositoryRoot, "tests", "LibvirtShim.Tests");
        return new[] { SampleFiles.Sample(""), Path.Combine(tests, "Recordings"), Path.Combine(tests, "Golden"), Path.Combine(tests, "Corpus") }
            .Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "*.xml", SearchOption.AllDirectories))
            .Order(StringComparer.Ordinal)
            .Select(File.ReadAllBytes)
            .Where(b => b.Length < 200_000)
            .ToList();
    }

    private static NameState RandomState(Random random, NameScheme scheme, int records)
    {
        var state = new NameState(scheme, (uint)random.Next(scheme.Capacity));
        for (int i = 0; i < records; i++)
        {
            string name = random.Next(4) == 0 ? $"macvtap{random.Next(1000)}" : scheme.NameOf(random.Next(scheme.Capacity));
            state.Put(new NameRecord(name, (Holding)random.Next(1, 6), random.Next(5) == 0 ? Guid.Empty : Guid.NewGuid(),
                $"guest-{random.Next(100)}-é",
                new MacAddress((ulong)random.NextInt64(1L << 48)), random.Next(2) == 0 ? "uplink0" : "", (MacvtapMode)(1u << random.Next(5)),
                random.Next(1000), random.NextInt64(), random.Next(2) == 0));
        }
        return state;
    }

    /// <summary>Byte- and field-level changes; half of them with length and checksum made right again, so that the records are parsed.</summary>
    private static byte[] MutateState(Random random, byte[] seed, List<byte[]> seeds)
    {
        var bytes = new List<byte>(seed);
        int changes = 1 + random.Next(4);
        for (int c = 0; c < changes; c++)
        {
            int at = random.Next(bytes.Count + 1);
            switch (random.Next(9))
            {
                case 0 when bytes.Count > 0: bytes[Math.Min(at, bytes.Count - 1)] ^= (byte)(1 << random.Next(8)); break;
                case 1 when bytes.Count > 0: bytes[Math.Min(at, bytes.Count - 1)] = (byte)random.Next(256); break;
                case 2: bytes.InsertRange(at, RandomBytes(random, 1 + random.Next(8))); break;
                case 3 when bytes.Count > at: bytes.RemoveRange(at, Math.Min(bytes.Count - at, 1 + random.Next(16))); break;
                case 4: bytes.RemoveRange(at, bytes.Count - at); break;
                case 5 when bytes.Count > 24 + 8:
                    // A length or count field set to something interesting.
                    int field = 24 + random.Next(bytes.Count - 24 - 4);
                    byte[] value = BitConverter.GetBytes(new[] { 0u, 1u, 0xFFFFu, 0x10000u, 0x7FFFFFFFu, uint.MaxValue,
                        (uint)random.Next() }[random.Next(7)]);
                    for (int k = 0; k < 4; k++) bytes[field + k] = value[k];
                    break;
                case 6 when bytes.Count > 24 + 4:
                    // A 16-bit text length.
                    int text = 24 + random.Next(bytes.Count - 24 - 2);
                    ushort length = (ushort)new[] { 0, 1, 15, 16, 255, 0xFFFF, random.Next(0x10000) }[random.Next(7)];
                    bytes[text] = (byte)length;
                    bytes[text + 1] = (byte)(length >> 8);
                    break;
                case 7:
                    byte[] other = seeds[random.Next(seeds.Count)];
                    int from = random.Next(other.Length), take = Math.Min(other.Length - from, random.Next(64));
                    bytes.InsertRange(at, other.AsSpan(from, take).ToArray());
                    break;
                default:
                    // A record duplicated: the payload of another seed appended.
                    byte[] donor = seeds[random.Next(seeds.Count)];
                    if (donor.Length > 32) bytes.AddRange(donor.AsSpan(32));
                    break;
            }
        }
        byte[] result = bytes.ToArray();
        return random.Next(2) == 0 && result.Length >= 24 ? CorruptStateTests.Checksummed(result) : result;
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    private sealed class TempDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("shim-fuzz-").FullName;
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}

/// <summary>
/// Mutates domain XMLs the way hostile or broken input differs from a real one: bytes flipped, inserted, cut and
/// spliced; tokens that matter to XML or to the hook inserted anywhere; and, on documents that parse, elements and
/// attributes duplicated, dropped, moved or given values that matter to the hook.
/// </summary>
internal sealed class XmlMutator(Random random, List<byte[]> seeds)
{
    private static readonly string[] Tokens =
    [
        "<!DOCTYPE domain [<!ENTITY e \"x\">]>", "&e;", "&#0;", "&#xD800;", "&#x10FFFF;", "&lt;", "&amp;", "]]>", "<![CDATA[x]]>",
        "<?pi x?>", "<!--", "-->",
        "\uFEFF", "\0", "\u0085", "\u2028", "\t", "\r\n", "<", ">", "'", "\"", "=", "/>", "</domain>", "<domain>", "<domstatus>",
        "xmlns=''", "xmlns:shim='urn:libvirt-shim:macvtap:1'", "xmlns:shim='urn:other'", "xml:lang='x'",
            "xmlns:xml='http://www.w3.org/XML/1998/namespace'",
        "<shim:link mac='52:54:00:00:00:01' source='uplink0'/>", "<shim:link mac='52:54:00:00:00:01' network='physnet1' mode='passthru'/>",
        "<interface type='ethernet'><mac address='52:54:00:00:00:01'/><target dev='mvtap1' managed='no'/></interface>",
        "<interface type='direct'><mac address='52:54:00:00:00:02'/><source dev='eth0' mode='vepa'/><target dev='macvtap0'/></interface>",
        "<interface type='network'><mac address='52:54:00:00:00:03'/><actual type='direct'><source dev='eth0' mode='bridge'/></actual></interface>",
        "<uuid>00000000-0000-4000-8000-000000000001</uuid>", "<uuid></uuid>", "<name></name>", "<metadata>", "</metadata>", "<devices>", "</devices>",
        new string('a', 300), "mvtap99999999999", "../..", "eth0", "lo", ":",
    ];

    private static readonly string[] Values =
    [
        "", " ", "..", ".", "/", "a/b", "eth0", "lo", "uplink0", "mvtap0", "mvtap01", "mvtap8192", "mvtap8191", "macvtap0", "x:y", "a b",
        "ééééééééé",
        "52:54:00:00:00:01", "52:54:00:00:00:1", "01:00:5e:00:00:01", "zz:zz:zz:zz:zz:zz", "52-54-00-00-00-01",
        "bridge", "vepa", "private", "passthru", "passthrough", "source", "BRIDGE", "ethernet", "direct", "network", "no", "yes",
        "00000000-0000-0000-0000-000000000000", "00000000-0000-4000-8000-000000000001", "{00000000-0000-4000-8000-000000000001}",
            new string('x', 5000),
    ];

    public byte[] Next()
    {
        byte[] seed = seeds[random.Next(seeds.Count)];
        byte[] input = random.Next(3) == 0 && Structural(seed) is { } changed ? changed : seed;
        int changes = random.Next(4);
        for (int c = 0; c < changes; c++) input = ByteLevel(input);
        return input;
    }

    private byte[] ByteLevel(byte[] input)
    {
        var bytes = new List<byte>(input);
        int at = random.Next(bytes.Count + 1);
        switch (random.Next(7))
        {
            case 0 when bytes.Count > 0: bytes[Math.Min(at, bytes.Count - 1)] ^= (byte)(1 << random.Next(8)); break;
            case 1 when bytes.Count > 0: bytes[Math.Min(at, bytes.Count - 1)] = (byte)random.Next(256); break;
            case 2 when bytes.Count > at: bytes.RemoveRange(at, Math.Min(bytes.Count - at, 1 + random.Next(64))); break;
            case 3: bytes.RemoveRange(at, bytes.Count - at); break;
            case 4:
                byte[] other = seeds[random.Next(seeds.Count)];
                int from = random.Next(other.Length);
                bytes.InsertRange(at, other.AsSpan(from, Math.Min(other.Length - from, random.Next(200))).ToArray());
                break;
            case 5 when bytes.Count > at:
                int length = Math.Min(bytes.Count - at, 1 + random.Next(100));
                bytes.InsertRange(at, bytes.GetRange(at, length));
                break;
            default: bytes.InsertRange(at, Encoding.UTF8.GetBytes(Tokens[random.Next(Tokens.Length)])); break;
        }
        return bytes.ToArray();
    }

    /// <summary>On a document that parses: one element or attribute changed the way the hook cares about; null otherwise.</summary>
    private byte[]? Structural(byte[] seed)
    {
        XDocument document;
        try
        {
            // Never with a DTD: the corpus's entity bombs are seeds too.
            using var reader = System.Xml.XmlReader.Create(new MemoryStream(seed),
                new System.Xml.XmlReaderSettings { DtdProcessing = System.Xml.DtdProcessing.Prohibit, XmlResolver = null });
            document = XDocument.Load(reader, LoadOptions.PreserveWhitespace);
        }
        catch (System.Xml.XmlException)
        {
            return null;
        }
        var elements = document.Descendants().ToList();
        if (elements.Count < 2) return null;
        try
        {
            Change(elements);
            return Encoding.UTF8.GetBytes(document.ToString(SaveOptions.DisableFormatting));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.Xml.XmlException)
        {
            return null; // a change LINQ to XML cannot write (a prefix bound to no namespace): the seed is used as it is
        }
    }

    private void Change(List<XElement> elements)
    {
        XElement element = elements[random.Next(1, elements.Count)];
        switch (random.Next(6))
        {
            case 0: element.AddAfterSelf(new XElement(element)); break;
            case 1: element.Remove(); break;
            case 2: elements[random.Next(elements.Count)].Add(new XElement(element)); break;
            case 3 when element.Attributes().ToList() is { Count: > 0 } attributes:
                attributes[random.Next(attributes.Count)].Value = Values[random.Next(Values.Length)];
                break;
            case 4: element.Value = Values[random.Next(Values.Length)]; break;
            default:
                string[] names = ["mac", "source", "network", "mode", "dev", "managed", "type", "address"];
                element.SetAttributeValue(names[random.Next(names.Length)], Values[random.Next(Values.Length)]);
                break;
        }
    }
}
