namespace LibvirtShim.Naming;

/// <summary>Every held name with its record, and the bitmap of held managed names kept in step with them.</summary>
internal sealed class NameState
{
    private readonly Dictionary<string, NameRecord> _records = new(StringComparer.Ordinal);
    private readonly NameBitmap _bitmap;

    public NameState(NameScheme scheme, uint cursor = 0)
    {
        Scheme = scheme;
        _bitmap = new NameBitmap(scheme.Capacity);
        Cursor = cursor;
    }

    public NameScheme Scheme { get; }

    /// <summary>Where the next allocation starts looking: just past the last name handed out.</summary>
    public uint Cursor { get; private set; }

    public int Count => _records.Count;
    public int HeldManagedNames => _bitmap.Count;
    public IEnumerable<NameRecord> Records => _records.Values;

    public NameRecord? Find(string name) => _records.GetValueOrDefault(name);

    public List<NameRecord> OfDomain(Guid domain) => _records.Values.Where(r => r.Domain == domain).ToList();

    public bool IsHeld(string name) => _records.ContainsKey(name);

    public void Put(NameRecord record)
    {
        _records[record.Name] = record;
        if (Scheme.TryIndex(record.Name, out int index)) _bitmap.Set(index);
    }

    public void Remove(string name)
    {
        if (_records.Remove(name) && Scheme.TryIndex(name, out int index)) _bitmap.Clear(index);
    }

    /// <summary>The next managed name nobody holds, after the cursor and wrapping; null when all are held. Moves the cursor.</summary>
    public string? TakeNextFreeName()
    {
        int index = _bitmap.FindClear((int)(Cursor % (uint)Scheme.Capacity));
        if (index < 0) return null;
        Cursor = (uint)(index + 1) % (uint)Scheme.Capacity;
        return Scheme.NameOf(index);
    }

    public NameState Clone()
    {
        var copy = new NameState(Scheme, Cursor);
        foreach (NameRecord record in _records.Values) copy.Put(record);
        return copy;
    }
}
