using System.Buffers.Binary;
using LibvirtShim.Naming;
using LibvirtShim.Net;
using Xunit;

namespace LibvirtShim.Tests.Naming;

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
                "uplink0", MacvtapMode.Vepa, 100 + i, 1_700_000_000 + i, i % 2 == 0));
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
        Assert.Contains("version 2", e.Message);
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
}
