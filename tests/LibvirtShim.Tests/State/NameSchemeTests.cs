using LibvirtShim.State;
using Xunit;

namespace LibvirtShim.Tests.State;

public class NameSchemeTests
{
    private readonly NameScheme _scheme = new("mvtap", 8192);

    [Theory]
    [InlineData("mvtap0", 0)]
    [InlineData("mvtap7", 7)]
    [InlineData("mvtap8191", 8191)]
    public void ReadsCanonicalNames(string name, int index)
    {
        Assert.True(_scheme.TryIndex(name, out int found));
        Assert.Equal(index, found);
        Assert.Equal(name, _scheme.NameOf(index));
    }

    [Theory]
    [InlineData("mvtap")]
    [InlineData("mvtap01")]
    [InlineData("mvtap8192")]
    [InlineData("mvtap-1")]
    [InlineData("mvtap1a")]
    [InlineData("macvtap3")]
    [InlineData("Mvtap3")]
    [InlineData("mvtap99999999999")]
    public void RefusesEverythingElse(string name) => Assert.False(_scheme.TryIndex(name, out _));
}
