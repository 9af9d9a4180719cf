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
            if (cache.Renamed.TryGetValue(domain.Key.Domain, out string? renamed))
            {
                foreach (NameRecord record in domain.Where(r => state.IsHeld(r.Name))) state.Put(record with { DomainName = renamed });
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
        /// Whether the definition of <paramref name="uuid"/> uses a name; null when it is gone. Found by its UUID (the file of
        /// the name last seen, or of <paramref name="domain"/>, first: one stat when it has not changed since it was read); one
        /// that cannot be read now, or a directory that cannot be looked at, keeps every name (nothing is freed on a doubt).
        /// </summary>
        public Predicate<string>? Keeps(string configDir, string domain, Guid uuid)
        {
            _asked.Add(uuid);
            bool known = _seen.TryGetValue(uuid, out var seen);
            if (known && Stat(Path.Combine(configDir, seen.Domain + ".xml")) is (long mtime, long size) && seen.Mtime == mtime && seen.Size == size)
                return seen.Names.Contains;
            DefinitionLookup lookup = DefinitionFiles.Find(configDir, known ? seen.Domain : domain, uuid, out string? path);
            if (lookup == DefinitionLookup.Unknown) return _ => true;
            if (lookup == DefinitionLookup.Gone)
            {
                _changed |= _seen.Remove(uuid);
                return null;
            }
            var file = new FileInfo(path!);
            DomainDescription definition;
            try
            {
                (long mtime, long size) stat = (file.LastWriteTimeUtc.Ticks, file.Length);
                definition = DomainReader.ReadLenient(DomainXml.Parse(DomainXml.ReadFile(file.FullName)));
                if (definition.Uuid != uuid) return _ => true;   // replaced between the look and the read
                var names = definition.OwnedNics.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
                string stem = Path.GetFileNameWithoutExtension(file.Name);
                _seen[uuid] = (stem, stat.mtime, stat.size, names);
                if (stem != domain) Renamed[uuid] = stem;
                _changed = true;
                return names.Contains;
            }
            catch (Exception e) when (e is ShimFailure or IOException or UnauthorizedAccessException)
            {
                return _ => true;
            }
        }

        /// <summary>Domains whose definition was found under another name than their records say (virsh domrename): the name now.</summary>
        public Dictionary<Guid, string> Renamed { get; } = [];

        private static (long Mtime, long Size)? Stat(string path)
        {
            var file = new FileInfo(path);
            return file.Exists ? (file.LastWriteTimeUtc.Ticks, file.Length) : null;
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
