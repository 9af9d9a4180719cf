using LibvirtShim.Naming;

namespace LibvirtShim.Lifecycle;

/// <summary>Remembers each record as it was before an operation touched it, so a failure can put them all back.</summary>
internal sealed class StateUndo(NameState state)
{
    private readonly Dictionary<string, NameRecord?> _before = new(StringComparer.Ordinal);

    public void Put(NameRecord record)
    {
        _before.TryAdd(record.Name, state.Find(record.Name));
        state.Put(record);
    }

    public void Remove(string name)
    {
        _before.TryAdd(name, state.Find(name));
        state.Remove(name);
    }

    public void Rollback()
    {
        foreach (var (name, record) in _before)
        {
            if (record is null) state.Remove(name);
            else state.Put(record);
        }
        _before.Clear();
    }
}
