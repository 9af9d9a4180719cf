using LibvirtShim.Configuration;
using LibvirtShim.Domain;
using LibvirtShim.Messages;
using LibvirtShim.State;

namespace LibvirtShim.Session;

/// <summary>
/// Names held for a persistent definition (by adopt, seeding or a hot-plug into the definition) go back once the
/// definition is gone: no file in the definitions directory holds its UUID (<c>virsh undefine</c>; the definition is found
/// by UUID, so <c>virsh domrename</c> keeps it: <see cref="DefinitionFiles"/>), or the name is no longer in it. Freed
/// (<see cref="Free"/>) when names are handed out and when seeding, under the lock to change the state; status and doctor
/// only say what the next of those would free (<see cref="Find"/>). Cheap: one stat per domain holding such names; a
/// definition is parsed only when its file's modification time or size differs from when it was last read (remembered
/// in the state directory's "definitions", <see cref="SeenDefinitions"/>). A hold that has not expired yet (adopt's,
/// before <c>virsh define</c>; a hot-plug's, before libvirt writes the NIC into the definition) waits for its definition,
/// unless that definition was seen here and is gone now.
/// </summary>
internal static class GoneDefinitions
{
    /// <summary>
    /// Removes those records from <paramref name="state"/> and returns them (the caller saves the state). A hold waiting for
    /// its definition that the definition now names is confirmed: it no longer expires.
    /// </summary>
    public static List<NameRecord> Free(ShimSettings settings, StateLease lease, NameState state, long now)
    {
        if (!state.HeldAs(Holding.Defined).Any()) return [];
        var look = new Look(settings.LibvirtConfigDir, SeenDefinitions.Read(lease));
        List<NameRecord> gone = look.Gone(state, now);
        foreach (NameRecord record in gone) state.Remove(record.Name);
        foreach (NameRecord record in look.Confirmed) state.Put(record with { ExpiresAt = 0 });
        foreach (NameRecord record in state.HeldAs(Holding.Defined).ToList())
        {
            if (look.Renamed.TryGetValue(record.Domain, out string? renamed) && record.DomainName != renamed)
                state.Put(record with { DomainName = renamed });
        }
        if (look.Changed) SeenDefinitions.Write(lease, look.Seen);
        return gone;
    }

    /// <summary>What <see cref="Free"/> would free now, changing nothing (status, doctor).</summary>
    public static List<NameRecord> Find(ShimSettings settings, StateReadLease lease, NameState state, long now)
    {
        if (!state.HeldAs(Holding.Defined).Any()) return [];
        return new Look(settings.LibvirtConfigDir, SeenDefinitions.Read(lease)).Gone(state, now);
    }

    /// <summary>Whether <see cref="Free"/> would free this one record (prepare, finding another domain's hold on a name it needs).</summary>
    public static bool Frees(ShimSettings settings, StateReadLease lease, NameRecord held, long now) =>
        held.Holding == Holding.Defined && new Look(settings.LibvirtConfigDir, SeenDefinitions.Read(lease)).GoneOf([held], now).Count == 1;

    /// <summary>One look at the definitions that hold names, with what was seen of them before (updated as it looks).</summary>
    private sealed class Look(string configDir, Dictionary<Guid, SeenDefinition> seen)
    {
        /// <summary>What a definition that cannot be read now is taken to use: every name (nothing is freed on a doubt).</summary>
        private static readonly Predicate<string> KeepsEverything = _ => true;

        private readonly HashSet<Guid> _asked = [];

        public Dictionary<Guid, SeenDefinition> Seen { get; } = seen;

        /// <summary>Whether <see cref="Seen"/> differs from what was read: something was parsed, has gone, or holds no name any more.</summary>
        public bool Changed { get; private set; }

        /// <summary>Domains whose definition was found under another name than their records say (virsh domrename): the name now.</summary>
        public Dictionary<Guid, string> Renamed { get; } = [];

        /// <summary>Holds still waiting for their definition (an expiry) that the definition names now.</summary>
        public List<NameRecord> Confirmed { get; } = [];

        /// <summary>Every record held for a definition that is gone; what was seen of definitions holding nothing any more is dropped.</summary>
        public List<NameRecord> Gone(NameState state, long now)
        {
            var gone = new List<NameRecord>();
            foreach (var domain in state.HeldAs(Holding.Defined).GroupBy(r => (r.DomainName, r.Domain))) gone.AddRange(GoneOf(domain.ToList(), now));
            foreach (Guid unused in Seen.Keys.Where(k => !_asked.Contains(k)).ToList()) Changed |= Seen.Remove(unused);
            return gone;
        }

        /// <summary>The records of one domain's definition (same name and UUID) that are held for it in vain.</summary>
        public List<NameRecord> GoneOf(IReadOnlyCollection<NameRecord> domain, long now)
        {
            NameRecord first = domain.First();
            bool seenBefore = Seen.ContainsKey(first.Domain);
            Predicate<string>? uses = Uses(first.DomainName, first.Domain);
            bool goneAfterSeen = uses is null && seenBefore;
            if (uses is not null && uses != KeepsEverything) Confirmed.AddRange(domain.Where(r => r.ExpiresAt != 0 && uses(r.Name)));
            return domain.Where(r => uses?.Invoke(r.Name) != true && (r.ExpiresAt <= now || goneAfterSeen)).ToList();
        }

        /// <summary>
        /// Whether the definition of <paramref name="uuid"/> uses a name; null when it is gone. Found by its UUID (the file of
        /// the name last seen, or of <paramref name="domain"/>, first: one stat when it has not changed since it was read); one
        /// that cannot be read now, or a directory that cannot be looked at, keeps every name (nothing is freed on a doubt).
        /// </summary>
        private Predicate<string>? Uses(string domain, Guid uuid)
        {
            _asked.Add(uuid);
            bool known = Seen.TryGetValue(uuid, out SeenDefinition? seen);
            if (known && Stat(Path.Combine(configDir, seen!.Domain + ".xml")) is (long mtime, long size) && seen.Mtime == mtime && seen.Size == size)
                return Found(seen.Domain, domain, uuid, seen.Names);
            DefinitionLookup lookup = DefinitionFiles.Find(configDir, known ? seen!.Domain : domain, uuid, out string? path);
            if (lookup == DefinitionLookup.Unknown) return KeepsEverything;
            if (lookup == DefinitionLookup.Gone)
            {
                Changed |= Seen.Remove(uuid);
                return null;
            }
            var file = new FileInfo(path!);
            try
            {
                (long mtime, long size) stat = (file.LastWriteTimeUtc.Ticks, file.Length);
                DomainDescription definition = DomainReader.ReadLenient(DomainXml.Parse(DomainXml.ReadFile(file.FullName)));
                if (definition.Uuid != uuid) return KeepsEverything;   // replaced between the look and the read
                var names = definition.OwnedNics.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
                string stem = Path.GetFileNameWithoutExtension(file.Name);
                Seen[uuid] = new SeenDefinition(stem, stat.mtime, stat.size, names);
                Changed = true;
                return Found(stem, domain, uuid, names);
            }
            catch (Exception e) when (e is ShimFailure or IOException or UnauthorizedAccessException)
            {
                return KeepsEverything;
            }
        }

        private Predicate<string> Found(string fileName, string recorded, Guid uuid, IReadOnlySet<string> names)
        {
            if (fileName != recorded) Renamed[uuid] = fileName;
            return names.Contains;
        }

        private static (long Mtime, long Size)? Stat(string path)
        {
            var file = new FileInfo(path);
            return file.Exists ? (file.LastWriteTimeUtc.Ticks, file.Length) : null;
        }
    }
}
