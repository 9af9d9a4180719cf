using System.Globalization;
using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.State;
using LibvirtShim.Net;
using LibvirtShim.Messages;

namespace LibvirtShim.Session;

/// <summary>
/// Names held for a persistent definition (by adopt, seeding or a hot-plug into the definition) go back once the
/// definition is gone: its file removed (<c>virsh undefine</c>), its UUID changed, or the name no longer in it. Checked
/// when names are handed out and when status or doctor look, under the state lock. Cheap: one stat per domain holding
/// such names; a definition is parsed only when its file's modification time or size differs from when it was last read
/// (kept in StateDir/definitions). A hold that has not expired yet (adopt's, before <c>virsh define</c>; a hot-plug's,
/// before libvirt writes the NIC into the definition) waits for its definition, unless that definition was seen here
/// and is gone now.
/// </summary>
internal static class GoneDefinitions
{
    /// <summary>Removes those records from <paramref name="state"/> and returns them (the caller saves the state).</summary>
    public static List<NameRecord> Free(ShimSettings settings, NameState state, long now)
    {
        var held = state.HeldAs(Holding.Defined).ToList();
        if (held.Count == 0) return [];
        var cache = DefinitionCache.Load(settings.StateDir);
        var freed = new List<NameRecord>();
        foreach (var domain in held.GroupBy(r => (r.DomainName, r.Domain)))
        {
            bool seenBefore = cache.HasSeen(domain.Key.Domain);
            Predicate<string>? keeps = cache.Keeps(settings.LibvirtConfigDir, domain.Key.DomainName, domain.Key.Domain);
            bool goneAfterSeen = keeps is null && seenBefore;
            foreach (NameRecord record in domain.Where(r => keeps?.Invoke(r.Name) != true && (r.ExpiresAt <= now || goneAfterSeen)))
            {
                state.Remove(record.Name);
                freed.Add(record);
            }
        }
        cache.SaveIfChanged();
        return freed;
    }

    /// <summary>What each definition held names when it was last parsed, by UUID, with the file's mtime and size then.</summary>
    private sealed class DefinitionCache
    {
        private const string FileName = "definitions";
        private readonly string _path;
        private readonly Dictionary<Guid, (string Domain, long Mtime, long Size, HashSet<string> Names)> _seen = [];
        private readonly HashSet<Guid> _asked = [];
        private bool _changed;

        private DefinitionCache(string path) => _path = path;

        public static DefinitionCache Load(string stateDir)
        {
            var cache = new DefinitionCache(Path.Combine(stateDir, FileName));
            try
            {
                foreach (string line in File.ReadLines(cache._path))
                {
                    string[] f = line.Split('\t');
                    if (f.Length == 5 && Guid.TryParse(f[0], out Guid uuid) && long.TryParse(f[1], CultureInfo.InvariantCulture, out long mtime)
                        && long.TryParse(f[2], CultureInfo.InvariantCulture, out long size))
                    {
                        var names = f[3].Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
                        cache._seen[uuid] = (f[4], mtime, size, names);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
            return cache;
        }

        /// <summary>Whether the definition of <paramref name="uuid"/> was parsed here while it existed (and has not been seen gone since).</summary>
        public bool HasSeen(Guid uuid) => _seen.ContainsKey(uuid);

        /// <summary>
        /// Whether the definition uses a name; null when it is gone. One that cannot be read now keeps every name (nothing
        /// is freed on a doubt).
        /// </summary>
        public Predicate<string>? Keeps(string configDir, string domain, Guid uuid)
        {
            _asked.Add(uuid);
            if (domain.Length == 0 || domain.Contains('/') || domain.Contains('\n') || domain.Contains('\t') || domain is "." or "..") return null;
            var file = new FileInfo(Path.Combine(configDir, domain + ".xml"));
            if (!file.Exists)
            {
                _changed |= _seen.Remove(uuid);
                return null;
            }
            long mtime = file.LastWriteTimeUtc.Ticks, size = file.Length;
            if (_seen.TryGetValue(uuid, out var seen) && seen.Domain == domain && seen.Mtime == mtime && seen.Size == size)
                return seen.Names.Contains;
            DomainDescription definition;
            try
            {
                definition = DomainReader.ReadLenient(DomainXml.Parse(DomainXml.ReadFile(file.FullName)));
            }
            catch (Exception e) when (e is ShimFailure or IOException or UnauthorizedAccessException)
            {
                return _ => true;
            }
            if (definition.Uuid != uuid)
            {
                _changed |= _seen.Remove(uuid);
                return null;
            }
            var names = definition.OwnedNics.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
            _seen[uuid] = (domain, mtime, size, names);
            _changed = true;
            return names.Contains;
        }

        /// <summary>Written when something was parsed or has gone; entries of domains that hold no such name any more are dropped.</summary>
        public void SaveIfChanged()
        {
            foreach (Guid unused in _seen.Keys.Where(k => !_asked.Contains(k)).ToList()) _changed |= _seen.Remove(unused);
            if (!_changed) return;
            string temporary = _path + ".new";
            File.WriteAllLines(temporary, _seen.Select(e =>
                string.Join('\t', e.Key.ToString("D"), e.Value.Mtime.ToString(CultureInfo.InvariantCulture),
                    e.Value.Size.ToString(CultureInfo.InvariantCulture), string.Join(',', e.Value.Names), e.Value.Domain)));
            File.Move(temporary, _path, overwrite: true);
        }
    }
}
