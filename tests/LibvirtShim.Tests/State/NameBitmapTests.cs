using CsCheck;
using LibvirtShim.State;
using Xunit;

namespace LibvirtShim.Tests.State;

public class NameBitmapTests
{
    [Fact]
    public void FindsTheFirstClearBitAtOrAfterTheStartAndWraps()
    {
        var bitmap = new NameBitmap(130);
        foreach (int i in new[] { 5, 6, 7, 64, 128, 129 }) bitmap.Set(i);
        Assert.Equal(8, bitmap.FindClear(5));
        Assert.Equal(65, bitmap.FindClear(64));
        Assert.Equal(0, bitmap.FindClear(128));
        Assert.Equal(6, bitmap.Count);
    }

    [Fact]
    public void ReportsFullOnlyWhenEveryBitIsSet()
    {
        var bitmap = new NameBitmap(70);
        for (int i = 0; i < 70; i++) bitmap.Set(i);
        Assert.Equal(-1, bitmap.FindClear(3));
        bitmap.Clear(2);
        Assert.Equal(2, bitmap.FindClear(3));
        Assert.Equal(69, bitmap.Count);
    }

    [Fact]
    public void NeverReturnsAnIndexPastTheCapacity()
    {
        var bitmap = new NameBitmap(3);
        bitmap.Set(0);
        bitmap.Set(1);
        bitmap.Set(2);
        Assert.Equal(-1, bitmap.FindClear(0));
    }

    [Fact]
    public void AgreesWithASetModelOverRandomOperations()
    {
        Gen.Int[1, 300].SelectMany(capacity =>
                Gen.Select(Gen.Int[0, capacity - 1], Gen.Int[0, 2]).Array[0, 400].Select(ops => (capacity, ops)))
            .Sample(t =>
            {
                var bitmap = new NameBitmap(t.capacity);
                var model = new SortedSet<int>();
                foreach (var (index, op) in t.ops)
                {
                    if (op == 0) { bitmap.Set(index); model.Add(index); }
                    else if (op == 1) { bitmap.Clear(index); model.Remove(index); }
                    else
                    {
                        int expected = Enumerable.Range(index, t.capacity).Select(i => i % t.capacity).FirstOrDefault(i => !model.Contains(i), -1);
                        if (bitmap.FindClear(index) != expected) return false;
                    }
                    if (bitmap.Count != model.Count) return false;
                }
                return true;
            }, iter: 2000);
    }
}
