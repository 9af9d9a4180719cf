using System.Buffers.Binary;
using System.IO.Hashing;
using System.Numerics;
using System.Text;
using System.Text.Unicode;
using LibvirtShim.Net;

namespace LibvirtShim.State;

/// <summary>
/// The records of a state file as its bytes, one slot per record in file order, found by name through an
/// open-addressing table over the name bytes in the file: loading creates no string and no object per record.
/// Read-only once loaded.
/// </summary>
internal sealed class StoredRecords
{
    public static readonly StoredRecords None = new([], new NameScheme("", 1), 0);

    private readonly byte[] _file;
    private readonly NameScheme _scheme;
    private readonly List<int> _offsets;
    private readonly List<int> _managedIndexes = [];
    private readonly List<int> _skipped = [];
    private int _live;
    private readonly int[] _table;

    public StoredRecords(byte[] file, NameScheme scheme, int expected)
    {
        _file = file;
        _scheme = scheme;
        _offsets = new List<int>(expected + 1);
        _table = new int[(int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(expected * 2, 16))];
    }

    public int Count => Math.Max(_offsets.Count - 1, 0);

    /// <summary>The managed-name indexes of all stored records.</summary>
    public IReadOnlyList<int> ManagedIndexes => _managedIndexes;

    /// <summary>
    /// Adds the record starting at <paramref name="offset"/> (the previous one ends there) named by the UTF-8
    /// <paramref name="name"/>; returns why it cannot be used (<paramref name="fieldProblem"/>, found in its other
    /// fields, or one of its name), and then keeps it as a skipped slot; null when it is added.
    /// </summary>
    public string? Add(ReadOnlySpan<byte> name, int offset, string? fieldProblem)
    {
        string? problem = NameProblem(name) ?? fieldProblem;
        _offsets.Add(offset);
        if (problem is not null)
        {
            _skipped.Add(_offsets.Count - 1);
            return problem;
        }
        _table[FindPosition(name, out _)] = _offsets.Count;
        _live++;
        Span<char> chars = stackalloc char[InterfaceName.MaxLength];
        if (_scheme.TryIndex(chars[..Encoding.UTF8.GetChars(name, chars)], out int index)) _managedIndexes.Add(index);
        return null;
    }

    /// <summary>Slots whose records were skipped: they are never read, found or written back.</summary>
    public IReadOnlyList<int> Skipped => _skipped;

    private string? NameProblem(ReadOnlySpan<byte> name)
    {
        if (!Utf8.IsValid(name)) return "its name is not UTF-8";
        if (InterfaceName.Problem(name) is { } problem) return $"its name {problem}";
        if (_live >= _table.Length / 2) return "more records than the file can hold";
        FindPosition(name, out bool found);
        return found ? "its name is held by an earlier record" : null;
    }

    /// <summary>Marks where the last record ends.</summary>
    public void End(int offset) => _offsets.Add(offset);

    public int SlotOf(string name)
    {
        Span<byte> bytes = stackalloc byte[InterfaceName.MaxLength];
        if (!Encoding.UTF8.TryGetBytes(name, bytes, out int length) || _offsets.Count == 0) return -1;
        int position = FindPosition(bytes[..length], out bool found);
        return found ? _table[position] - 1 : -1;
    }

    public ReadOnlyMemory<byte> Bytes(int fromSlot, int toSlot) => _file.AsMemory(_offsets[fromSlot].._offsets[toSlot]);

    public NameRecord Read(int slot) => StateCodec.ReadRecord(Bytes(slot, slot + 1).Span);

    public Holding HoldingOf(int slot) => (Holding)_file[AfterName(slot)];

    public Guid DomainOf(int slot) => new(_file.AsSpan(AfterName(slot) + 1, 16));

    /// <summary>Where <paramref name="name"/> is in the table, or the free place it would take.</summary>
    private int FindPosition(ReadOnlySpan<byte> name, out bool found)
    {
        int mask = _table.Length - 1;
        for (int position = (int)XxHash32.HashToUInt32(name) & mask; ; position = (position + 1) & mask)
        {
            int slot = _table[position] - 1;
            found = slot >= 0 && NameAt(slot).SequenceEqual(name);
            if (slot < 0 || found) return position;
        }
    }

    private ReadOnlySpan<byte> NameAt(int slot)
    {
        int offset = _offsets[slot];
        return _file.AsSpan(offset + 2, BinaryPrimitives.ReadUInt16LittleEndian(_file.AsSpan(offset)));
    }

    private int AfterName(int slot)
    {
        int offset = _offsets[slot];
        return offset + 2 + BinaryPrimitives.ReadUInt16LittleEndian(_file.AsSpan(offset));
    }
}
