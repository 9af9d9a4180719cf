using System.Numerics;

namespace LibvirtShim.State;

/// <summary>One bit per name index: set when the name is held by anyone.</summary>
internal sealed class NameBitmap(int capacity)
{
    private readonly ulong[] _words = new ulong[(capacity + 63) / 64];

    public int Capacity { get; } = capacity;
    public int Count { get; private set; }

    public bool IsSet(int index) => (_words[index >> 6] & (1UL << index)) != 0;

    public void Set(int index)
    {
        ref ulong word = ref _words[index >> 6];
        if ((word & (1UL << index)) == 0) Count++;
        word |= 1UL << index;
    }

    public void Clear(int index)
    {
        ref ulong word = ref _words[index >> 6];
        if ((word & (1UL << index)) != 0) Count--;
        word &= ~(1UL << index);
    }

    /// <summary>The first clear index at or after <paramref name="start"/>, wrapping once around; -1 when full.</summary>
    public int FindClear(int start)
    {
        if (Count >= Capacity) return -1;
        start = (int)((uint)start % (uint)Capacity);
        int found = FindClearIn(start, Capacity);
        return found >= 0 ? found : FindClearIn(0, start);
    }

    private int FindClearIn(int from, int to)
    {
        for (int index = from; index < to;)
        {
            ulong free = ~_words[index >> 6] & (ulong.MaxValue << (index & 63));
            if (free != 0)
            {
                int candidate = (index & ~63) + BitOperations.TrailingZeroCount(free);
                return candidate < to ? candidate : -1;
            }
            index = (index & ~63) + 64;
        }
        return -1;
    }
}
