using System.Text.Json;

namespace LibvirtShim.EndToEnd.Infrastructure;

/// <summary>One name of <c>libvirt-shim status --json</c>.</summary>
public sealed record StatusEntry(
    string Name, string HeldAs, string Lower, string Domain, string Uuid, string Mac, string Mode, int Ifindex, string Link, string? Problem)
{
    public override string ToString() =>
        $"{Name} {HeldAs} lower={Lower} domain={Domain} mac={Mac} mode={Mode} ifindex={Ifindex} link={Link}" +
            $"{(Problem is null ? "" : $" PROBLEM={Problem}")}";
}

/// <summary>What <c>libvirt-shim status --json</c> printed (exit 0: all agree, 3: disagreements or no usable state).</summary>
public sealed record ShimStatus(bool StateUsable, string? StateProblem, IReadOnlyList<StatusEntry> Names, int ExitCode)
{
    public const string Executable = "/usr/local/sbin/libvirt-shim";

    public IReadOnlyList<StatusEntry> Of(GuestXml guest) => Of(guest.Name, guest.Uuid);

    /// <summary>Entries naming the domain, by name or UUID.</summary>
    public IReadOnlyList<StatusEntry> Of(string domain, Guid uuid) =>
        Names.Where(e => e.Domain == domain || e.Uuid == uuid.ToString("D")).ToList();

    public IReadOnlyList<StatusEntry> WithProblems => Names.Where(e => e.Problem is not null).ToList();

    public StatusEntry? Find(string name) => Names.FirstOrDefault(e => e.Name == name);

    public string Show() =>
        $"stateUsable={StateUsable}{(StateProblem is null ? "" : $" ({StateProblem})")}, exit {ExitCode}, {Names.Count} names" +
        string.Concat(Names.Select(n => "\n    " + n));

    public override string ToString() => Show();

    /// <summary>Runs status on this host (or through <paramref name="run"/>, e.g. inside the peer's namespace) and parses it.</summary>
    public static ShimStatus Read(Func<string[], CmdResult>? run = null)
    {
        string[] args = ["status", "--json"];
        CmdResult r = run is null ? Cmd.Run(Executable, args) : run([Executable, .. args]);
        if (r.TimedOut || r.ExitCode is not (0 or 3) || r.Stdout.Trim().Length == 0)
            throw new CommandFailedException($"libvirt-shim status --json: {r.Describe()}");
        return Parse(r.Stdout, r.ExitCode);
    }

    public static ShimStatus Parse(string json, int exitCode)
    {
        // The JSON document is the whole output; anything before the first '{' (none expected) is skipped.
        using JsonDocument doc = JsonDocument.Parse(json[json.IndexOf('{')..]);
        JsonElement root = doc.RootElement;
        var names = new List<StatusEntry>();
        foreach (JsonElement e in root.GetProperty("names").EnumerateArray())
        {
            names.Add(new StatusEntry(
                S(e, "name"), S(e, "heldAs"), S(e, "lower"), S(e, "domain"), S(e, "uuid"), S(e, "mac").ToLowerInvariant(), S(e, "mode"),
                e.TryGetProperty("ifindex", out JsonElement i) && i.ValueKind == JsonValueKind.Number ? i.GetInt32() : 0,
                S(e, "link"),
                e.TryGetProperty("problem", out JsonElement p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null));
        }
        string? problem = root.TryGetProperty("stateProblem", out JsonElement sp) ? sp.GetString() : null;
        return new ShimStatus(root.GetProperty("stateUsable").GetBoolean(), problem, names, exitCode);
    }

    private static string S(JsonElement e, string property) =>
        e.TryGetProperty(property, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() ?? "" : "";
}
