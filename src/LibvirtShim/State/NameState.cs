namespace LibvirtShim.State;

/// <summary>
/// Every held name with its record, and the bitmap of held managed names kept in step with them. Records read from
/// the state file stay as its bytes until someone asks for one, and unchanged ones are written back as those bytes:
/// a call that touches one domain pays little for the thousands of records of others.
/// </summary>
internal sealed class NameState
{
    private readonly StoredRecords _stored;
    private readonly bool[] _storedGone;
    private int _storedLive;
    private readonly Dictionary<string, NameRecord> _changed = new(StringComparer.Ordinal);
    private readonly NameBitmap _bitmap;

    public NameState(NameScheme scheme, uint cursor = 0) : this(scheme, cursor, StoredRecords.None) { }

    internal NameState(NameScheme scheme, uint cursor, StoredRecords stored)
    {
        Scheme = scheme;
        Cursor = cursor;
        _stored = stored;
        _storedGone = new bool[stored.Count];
        foreach (int skipped in stored.Skipped) _storedGone[skipped] = true;
        _storedLive = stored.Count - stored.Skipped.Count;
        _bitmap = new NameBitmap(scheme.Capacity);
        foreach (int index in stored.ManagedIndexes) _bitmap.Set(index);
    }

    public NameScheme Scheme { get; }

    /// <summary>Where the next allocation starts looking: just past the last name handed out.</summary>
    public uint Cursor { get; private set; }

    public int Count => _storedLive + _changed.Count;

    /// <summary>Why records of the state file were left out when it was read (they are not written back).</summary>
    public IReadOnlyList<string> Skipped { get; init; } = [];
    public int HeldManagedNames => _bitmap.Count;

    /// <summary>Whether the allocator's bitmap has the managed name at <paramref name="index"/> taken; it must agree with the records.</summary>
    internal bool IsTaken(int index) => _bitmap.IsSet(index);

    public IEnumerable<NameRecord> Records
    {
        get
        {
            for (int slot = 0; slot < _storedGone.Length; slot++)
            {
                if (!_storedGone[slot]) yield return _stored.Read(slot);
            }
            foreach (NameRecord record in _changed.Values) yield return record;
        }
    }

    public NameRecord? Find(string name)
    {
        if (_changed.TryGetValue(name, out NameRecord? record)) return record;
        int slot = LiveSlotOf(name);
        return slot >= 0 ? _stored.Read(slot) : null;
    }

    public bool IsHeld(string name) => _changed.ContainsKey(name) || LiveSlotOf(name) >= 0;

    public List<NameRecord> OfDomain(Guid domain) =>
        Matching(slot => _stored.DomainOf(slot) == domain, record => record.Domain == domain);

    public List<NameRecord> HeldAs(Holding holding) =>
        Matching(slot => _stored.HoldingOf(slot) == holding, record => record.Holding == holding);

    public void Put(NameRecord record)
    {
        ForgetStored(record.Name);
        _changed[record.Name] = record;
        if (Scheme.TryIndex(record.Name, out int index)) _bitmap.Set(index);
    }

    public void Remove(string name)
    {
        bool held = ForgetStored(name) | _changed.Remove(name);
        if (held && Scheme.TryIndex(name, out int index)) _bitmap.Clear(index);
    }

    /// <summary>Reservations whose prepare never came (a cancelled migration) give their names back.</summary>
    public void DropExpiredReservations(long now)
    {
        foreach (NameRecord expired in HeldAs(Holding.Reserved).Where(r => r.ExpiresAt <= now)) Remove(expired.Name);
    }

    public void MoveCursor(uint cursor) => Cursor = cursor % (uint)Scheme.Capacity;

    /// <summary>The next managed name nobody holds, after the cursor and wrapping; null when all are held. Moves the cursor.</summary>
    public string? TakeNextFreeName()
    {
        int index = _bitmap.FindClear((int)(Cursor % (uint)Scheme.Capacity));
        if (index < 0) return null;
        Cursor = (uint)(index + 1) % (uint)Scheme.Capacity;
        return Scheme.NameOf(index);
    }

    /// <summary>
    /// The records as the codec writes them: runs of unchanged records as the bytes they were read from (one run
    /// when nothing was touched), then the changed records.
    /// </summary>
    internal IEnumerable<StoredRecord> Stored()
    {
        int runStart = 0;
        for (int slot = 0; slot <= _storedGone.Length; slot++)
        {
            if (slot < _storedGone.Length && !_storedGone[slot]) continue;
            if (slot > runStart) yield return new StoredRecord(null, _stored.Bytes(runStart, slot));
            runStart = slot + 1;
        }
        foreach (NameRecord record in _changed.Values) yield return new StoredRecord(record, default);
    }

    private int LiveSlotOf(string name)
    {
        int slot = _stored.SlotOf(name);
        return slot >= 0 && !_storedGone[slot] ? slot : -1;
    }

    /// <summary>Drops the stored record of the name, if there is one still live.</summary>
    private bool ForgetStored(string name)
    {
        int slot = LiveSlotOf(name);
        if (slot < 0) return false;
        _storedGone[slot] = true;
        _storedLive--;
        return true;
    }

    private List<NameRecord> Matching(Func<int, bool> storedTest, Func<NameRecord, bool> changedTest)
    {
        var found = new List<NameRecord>();
        for (int slot = 0; slot < _storedGone.Length; slot++)
        {
            if (!_storedGone[slot] && storedTest(slot)) found.Add(_stored.Read(slot));
        }
        found.AddRange(_changed.Values.Where(changedTest));
        return found;
    }
}

/// <summary>For the state file: a <see cref="Changed"/> record, or when that is null unchanged records as they were read.</summary>
internal readonly record struct StoredRecord(NameRecord? Changed, ReadOnlyMemory<byte> Unchanged);
