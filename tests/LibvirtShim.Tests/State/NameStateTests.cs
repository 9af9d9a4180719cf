using CsCheck;
using LibvirtShim.State;
using Xunit;

namespace LibvirtShim.Tests.State;

public class NameStateTests
{
    private static readonly Guid Web = Guid.Parse("11111111-2222-4333-8444-555555555555");

    [Fact]
    public void HandsOutNamesInOrderAndDoesNotReuseAFreedNameAtOnce()
    {
        var state = new NameState(new NameScheme("mvtap", 8));
        var taken = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            string name = state.TakeNextFreeName()!;
            state.Put(new NameRecord(name, Holding.Reserved, Web, "web"));
            taken.Add(name);
        }
        Assert.Equal(["mvtap0", "mvtap1", "mvtap2"], taken);
        state.Remove("mvtap1");
        Assert.Equal("mvtap3", state.TakeNextFreeName());
    }

    [Fact]
    public void WrapsAroundToFreedNamesAndReportsFull()
    {
        var state = new NameState(new NameScheme("mvtap", 4));
        for (int i = 0; i < 4; i++) state.Put(new NameRecord(state.TakeNextFreeName()!, Holding.Reserved, Web, "web"));
        Assert.Null(state.TakeNextFreeName());
        state.Remove("mvtap1");
        Assert.Equal("mvtap1", state.TakeNextFreeName());
    }

    [Fact]
    public void KeepsTheBitmapInStepWithTheRecords()
    {
        var state = new NameState(new NameScheme("mvtap", 16));
        state.Put(new NameRecord("mvtap3", Holding.Created, Web, "web"));
        state.Put(new NameRecord("macvtap3", Holding.Libvirt, Web, "web"));
        state.Put(new NameRecord("mvtap3", Holding.Defined, Web, "web"));
        Assert.Equal(2, state.Count);
        Assert.Equal(1, state.HeldManagedNames);
        state.Remove("mvtap3");
        Assert.Equal(0, state.HeldManagedNames);
    }

    /// <summary>Allocation against a model: never a held name, never a name twice while held, every free name found.</summary>
    [Fact]
    public void AllocationAgreesWithAModel()
    {
        Gen.Int[1, 40].SelectMany(capacity => Gen.Int[0, 2 * capacity].Array[1, 200].Select(ops => (capacity, ops)))
            .Sample(t =>
            {
                var scheme = new NameScheme("n", t.capacity);
                var state = new NameState(scheme);
                var held = new HashSet<string>();
                foreach (int op in t.ops)
                {
                    if (op < t.capacity && held.Remove(scheme.NameOf(op)))
                    {
                        state.Remove(scheme.NameOf(op));
                        continue;
                    }
                    string? name = state.TakeNextFreeName();
                    if (held.Count == t.capacity) { if (name is not null) return false; continue; }
                    if (name is null || !held.Add(name)) return false;
                    state.Put(new NameRecord(name, Holding.Reserved, Web, "web"));
                }
                return state.HeldManagedNames == held.Count;
            }, iter: 2000);
    }
}
