using System.Buffers.Binary;
using System.Text;

namespace LibvirtShim.Naming;

/// <summary>
/// The records of a state file as its bytes, one slot per record in file order, found by name without a string or
/// an object per record: managed names by their index, others by name. Read-only once loaded.
/// </summary>
internal sealed class StoredRecords
{
    public static readonly StoredRecords None = new([], new NameScheme("", 1), 0);

    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);
    private readonly byte[] _file;
    private readonly NameScheme _scheme;
    private readonly List<int> _offsets;
    private readonly Dictionary<int, int> _slotOfIndex;
    private readonly Dictionary<string, int> _slotOfOtherName = new(StringComparer.Ordinal);

    public StoredRecords(byte[] file, NameScheme scheme, int expected)
    {
        _file = file;
        _scheme = scheme;
        _offsets = new List<int>(expected + 1);
        _slotOfIndex = new Dictionary<int, int>(expected);
    }

    public int Count => Math.Max(_offsets.Count - 1, 0);

    /// <summary>The managed-name indexes of all stored records.</summary>
    public IEnumerable<int> ManagedIndexes => _slotOfIndex.Keys;

    /// <summary>
    /// Adds the record starting at <paramref name="offset"/> (the previous one ends there) named by the UTF-8
    /// <paramref name="name"/>; false when the name is not a valid link name or is already stored.
    /// </summary>
    public bool TryAdd(ReadOnlySpan<byte> name, int offset)
    {
        if (name.Length > Net.InterfaceName.MaxLength) return false;
        Span<char> chars = stackalloc char[Net.InterfaceName.MaxLength];
        chars = chars[..StrictUtf8.GetChars(name, chars)];
        if (Net.InterfaceName.Problem(chars) is not null) return false;
        int slot = _offsets.Count;
        bool added = _scheme.TryIndex(chars, out int index) ? _slotOfIndex.TryAdd(index, slot) : _slotOfOtherName.TryAdd(new string(chars), slot);
        if (added) _offsets.Add(offset);
        return added;
    }

    /// <summary>Marks where the last record ends.</summary>
    public void End(int offset) => _offsets.Add(offset);

    public int SlotOf(string name)
    {
        bool found = _scheme.TryIndex(name, out int index) ? _slotOfIndex.TryGetValue(index, out int slot) : _slotOfOtherName.TryGetValue(name, out slot);
        return found ? slot : -1;
    }

    public ReadOnlyMemory<byte> Bytes(int fromSlot, int toSlot) => _file.AsMemory(_offsets[fromSlot].._offsets[toSlot]);

    public NameRecord Read(int slot) => StateCodec.ReadRecord(Bytes(slot, slot + 1).Span);

    public Holding HoldingOf(int slot) => (Holding)_file[AfterName(slot)];

    public Guid DomainOf(int slot) => new(_file.AsSpan(AfterName(slot) + 1, 16));

    private int AfterName(int slot)
    {
        int offset = _offsets[slot];
        return offset + 2 + BinaryPrimitives.ReadUInt16LittleEndian(_file.AsSpan(offset));
    }
}
