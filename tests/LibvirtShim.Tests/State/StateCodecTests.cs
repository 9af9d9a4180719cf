using System.Buffers.Binary;
using CsCheck;
using LibvirtShim.Net;
using LibvirtShim.State;
using Xunit;

namespace LibvirtShim.Tests.State;

public class StateCodecTests
{
    private static readonly NameScheme Scheme = new("mvtap", 8192);

    internal static NameState Sample(int records = 3)
    {
        var state = new NameState(Scheme);
        for (int i = 0; i < records; i++)
        {
            state.TakeNextFreeName();
            state.Put(new NameRecord($"mvtap{i}", (Holding)(1 + i % 5), Guid.NewGuid(), $"guest-{i}", new MacAddress(0x525400000000UL + (ulong)i),
                "uplink0", MacvtapMode.Vepa, 100 + i, 1_700_000_000 + i, i % 2 == 0, (GuardMode)(i % 3)));
        }
        state.Put(new NameRecord("webfront0", Holding.Libvirt, Guid.NewGuid(), "wëb", default, "", MacvtapMode.Bridge));
        return state;
    }

    [Fact]
    public void RoundTripsEveryField()
    {
        NameState state = Sample(10);
        NameState back = StateCodec.Decode(StateCodec.Encode(state), Scheme);
        Assert.Equal(state.Cursor, back.Cursor);
        Assert.Equal(state.Records.OrderBy(r => r.Name), back.Records.OrderBy(r => r.Name));
        Assert.Equal(state.HeldManagedNames, back.HeldManagedNames);
    }

    [Fact]
    public void RefusesATruncatedFile()
    {
        byte[] file = StateCodec.Encode(Sample());
        for (int length = 0; length < file.Length; length += 7)
            Assert.Throws<StateFormatException>(() => StateCodec.Decode(file.AsSpan(0, length), Scheme));
    }

    [Fact]
    public void RefusesAnyFlippedBit()
    {
        byte[] file = StateCodec.Encode(Sample());
        for (int bit = 0; bit < file.Length * 8; bit += 3)
        {
            byte[] copy = (byte[])file.Clone();
            copy[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.Throws<StateFormatException>(() => StateCodec.Decode(copy, Scheme));
        }
    }

    [Fact]
    public void RefusesAFutureVersionSayingSo()
    {
        byte[] file = StateCodec.Encode(Sample());
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(8), StateCodec.Version + 1);
        var e = Assert.Throws<StateFormatException>(() => StateCodec.Decode(file, Scheme));
        Assert.Contains($"version {StateCodec.Version + 1}", e.Message);
    }

    /// <summary>Version 1 kept only "kept by definition" in the flags byte: its files read as they were, no guard.</summary>
    [Fact]
    public void ReadsAVersion1FileAsUnguarded()
    {
        NameState state = Sample(6);
        foreach (NameRecord record in state.Records.ToList()) state.Put(record with { Guard = GuardMode.Off });
        byte[] file = StateCodec.Encode(state);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(8), 1);
        NameState back = StateCodec.Decode(file, Scheme);
        Assert.Equal(state.Records.OrderBy(r => r.Name), back.Records.OrderBy(r => r.Name));
        Assert.Contains(back.Records, r => r.InDefinitionToo);
    }

    [Fact]
    public void RefusesRandomBytes()
    {
        var random = new Random(7);
        for (int i = 0; i < 200; i++)
        {
            byte[] junk = new byte[random.Next(0, 400)];
            random.NextBytes(junk);
            Assert.Throws<StateFormatException>(() => StateCodec.Decode(junk, Scheme));
        }
    }

    /// <summary>
    /// A loaded state keeps untouched records as their stored bytes: after any mix of puts and removals on
    /// loaded records, each query and the state written back agree with a plain dictionary of the same changes.
    /// </summary>
    [Fact]
    public void LoadedStateChangedPieceByPieceMatchesAPlainModel()
    {
        var domains = Enumerable.Range(0, 4).Select(i => new Guid(i + 1, 0, 0, new byte[8])).ToArray();
        Gen.Select(Gen.Int[0, 40], Gen.Select(Gen.Int[0, 1], Gen.Int[0, 59], Gen.Int[0, 3], Gen.Int[1, 5]).Array[0, 60])
            .Sample((initial, ops) =>
            {
                var model = new Dictionary<string, NameRecord>();
                var state = new NameState(Scheme);
                foreach (NameRecord r in Enumerable.Range(0, initial).Select(i => Record(i * 3 % 60, domains[i % 4], (Holding)(1 + i % 5))))
                {
                    state.Put(r);
                    model[r.Name] = r;
                }
                state = StateCodec.Decode(StateCodec.Encode(state), Scheme);
                foreach (var (kind, slot, domain, holding) in ops)
                {
                    string name = NameOf(slot);
                    if (kind == 0)
                    {
                        model.Remove(name);
                        state.Remove(name);
                    }
                    else
                    {
                        NameRecord r = Record(slot, domains[domain], (Holding)holding);
                        model[name] = r;
                        state.Put(r);
                    }
                    Assert.Equal(model.GetValueOrDefault(name), state.Find(name));
                    Assert.Equal(model.ContainsKey(name), state.IsHeld(name));
                }
                Assert.Equal(model.Count, state.Count);
                Assert.Equal(model.Values.Count(r => Scheme.IsManaged(r.Name)), state.HeldManagedNames);
                Assert.Equal(model.Values.OrderBy(r => r.Name), state.Records.OrderBy(r => r.Name));
                foreach (Guid d in domains)
                    Assert.Equal(model.Values.Where(r => r.Domain == d).OrderBy(r => r.Name), state.OfDomain(d).OrderBy(r => r.Name));
                Assert.Equal(model.Values.Where(r => r.Holding == Holding.Foreign).OrderBy(r => r.Name),
                    state.HeldAs(Holding.Foreign).OrderBy(r => r.Name));
                NameState back = StateCodec.Decode(StateCodec.Encode(state), Scheme);
                Assert.Equal(model.Values.OrderBy(r => r.Name), back.Records.OrderBy(r => r.Name));
            }, iter: 400);

        static string NameOf(int slot) => slot < 50 ? $"mvtap{slot}" : $"macvtap{slot}";
        static NameRecord Record(int slot, Guid domain, Holding holding) =>
            new(NameOf(slot), holding, domain, $"guest-{domain.ToString()[..8]}", new MacAddress(0x525400000000UL + (ulong)slot), "uplink0",
                MacvtapMode.Bridge, slot, 0, slot % 3 == 0);
    }
}
