using LibvirtShim.Messages;
using LibvirtShim.Net;
using LibvirtShim.Reports;
using LibvirtShim.Session;
using LibvirtShim.State;

namespace LibvirtShim.Cli;

/// <summary><c>status</c>: the state beside the kernel, read under the lock, changing nothing.</summary>
internal static class StatusCommand
{
    public const int Disagreement = 3;

    public static int Run(IReadOnlyList<string> settingOverrides, bool json, TextWriter output, string? format = null)
    {
        if (format is not (null or "text" or "json" or StatusPrometheus.Format))
            throw CliRun.Usage("status", $"--format '{format}' is not one of text, json, prometheus");
        using ShimContext context = CliRun.OpenContext(settingOverrides, "status");
        StatusReport report = StatusReport.Gather(context);
        if (format == StatusPrometheus.Format)
        {
            StatusPrometheus.Write(output, report, context.Clock.GetUtcNow());
            return 0;
        }
        if (json || format == "json") WriteJson(output, report);
        else WriteTable(new PrintableWriter(output), report);
        return report.Agrees ? 0 : Disagreement;
    }

    private static void WriteTable(TextWriter output, StatusReport report)
    {
        NameScheme scheme = report.Scheme;
        output.WriteLine($"state {report.StateDir} (instance '{report.Instance}')");
        if (report.Load.State is not { } state)
            output.WriteLine($"  not usable ({report.Load.Problem}): the next hook call or 'libvirt-shim seed' rebuilds it");
        else
            output.WriteLine($"  {state.Count} names held: {state.HeldManagedNames} of {scheme.Capacity} {scheme.Prefix}N names, " +
                $"{state.Count - state.HeldManagedNames} other (libvirt's own macvtaps)");

        var lowers = report.Lowers.ToDictionary(l => l.Name, StringComparer.Ordinal);
        foreach (var group in report.Entries.GroupBy(e => e.Lower, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            output.WriteLine();
            output.WriteLine(group.Key.Length == 0 ? "no lower device recorded:" : $"lower device {Describe(lowers[group.Key], report.Allowed)}:");
            output.WriteLine($"  {"NAME",-15} {"HELD AS",-9} {"DOMAIN",-20} {"UUID",-8} {"MAC",-17} {"MODE",-8} {"GUARD",-5} {"LINK",-13} PROBLEM");
            foreach (AuditEntry e in group)
            {
                string link = e.LinkState == LinkPresence.Absent ? e.LinkState.Word() : $"{e.LinkState.Word()} #{e.Ifindex}";
                output.WriteLine($"  {e.Name,-15} {HeldAs(e),-9} {Truncate(e.DomainName, 20),-20} {ShortUuid(e.Domain),-8} " +
                    $"{Mac(e.Mac),-17} {e.Mode.Name(),-8} {e.Guard.Name(),-5} {link,-13} {e.Problem?.Words().Text}");
            }
        }
        if (report.Entries.Count == 0)
        {
            output.WriteLine();
            output.WriteLine("no names held");
        }
        if (report.Unrecorded.Count > 0)
        {
            output.WriteLine();
            output.WriteLine($"links on {scheme.Prefix}N names that no record holds (the next allocation records them as foreign and skips them):");
            foreach (StatusReport.UnrecordedLink l in report.Unrecorded)
                output.WriteLine($"  {l.Name,-15} #{l.Ifindex,-6} {l.Kind,-8} on {(l.Lower.Length > 0 ? l.Lower : "-"),-12} " +
                    $"{Mac(l.Mac),-17} made by {l.MadeBy}");
        }
        WriteReleases(output, report.LastReleases);
        output.WriteLine();
        output.WriteLine($"listener: {report.Listener.Describe(At)}");
        if (!report.Listener.Running) output.WriteLine($"  {ListenerView.Start}");

        foreach (string skipped in report.Load.State?.Skipped ?? [])
            output.WriteLine($"{skipped}: the next hook call or 'libvirt-shim seed' completes the state from what runs");
        foreach (string path in report.UnreadableStatusFiles)
            output.WriteLine($"status file {path} cannot be read: that guest's links count as in use; check the file");

        if (report.Orphans.Count > 0)
        {
            output.WriteLine();
            output.WriteLine($"netdev tables of libvirt-shim's guards whose domain runs no guest here: {OutputVocabulary.OrphanGuardAdvice}");
            foreach (StatusReport.OrphanGuard o in report.Orphans) output.WriteLine($"  {o.Table}");
        }

        if (report.Speaking.Count > 0)
        {
            output.WriteLine();
            output.WriteLine("links libvirt-shim made that hold a host address (the host may send from them with the guest's MAC):");
            foreach (SpeakingLink l in report.Speaking)
                output.WriteLine($"  {l.Link.Name,-15} #{l.Link.Index,-6} {l.AddressList}: {l.Advice()}");
        }

        output.WriteLine();
        if (report.HeldForGoneDefinitions > 0)
        {
            output.WriteLine($"{report.HeldForGoneDefinitions} name(s) held for definitions that are gone (not a disagreement):");
            WriteAdvice(output, report.Entries.Where(e => e.Problem == AuditProblem.DefinitionGone));
        }
        if (report.Agrees)
        {
            output.WriteLine("state and kernel agree");
            return;
        }
        if (report.Problems > 0)
        {
            output.WriteLine($"{report.Problems} disagreement(s) between state and kernel; what to do:");
            WriteAdvice(output, report.Entries.Where(e => e.Problem?.IsDisagreement() == true));
        }
        else if (report.Load.State is null)
        {
            output.WriteLine("no usable state: 'libvirt-shim seed' rebuilds it from the running guests, the definitions and the kernel");
        }
        if (report.Unrecorded.Count > 0)
            output.WriteLine($"{report.Unrecorded.Count} link(s) on {scheme.Prefix}N names that no record holds: " +
                "delete them if nobody uses them, or 'libvirt-shim seed' records them");
        if (report.Orphans.Count > 0)
            output.WriteLine($"{report.Orphans.Count} {OutputVocabulary.OrphanGuardText}(s): 'libvirt-shim seed' deletes them");
    }

    private static void WriteAdvice(TextWriter output, IEnumerable<AuditEntry> entries)
    {
        foreach (AuditEntry e in entries)
        {
            ProblemWords problem = e.Problem!.Value.Words();
            output.WriteLine($"  {e.Name}: {problem.Text}: {problem.AdviceFor(e.Name, e.DomainName, e.Lower)}");
        }
    }

    /// <summary>Shown in the table: the most recent ones; --json has them all.</summary>
    private const int ReleasesShown = 20;

    private static void WriteReleases(TextWriter output, List<ReleaseEntry> releases)
    {
        if (releases.Count == 0) return;
        output.WriteLine();
        output.WriteLine("last release per domain, newest first (the shutoff reason is libvirt's, since 10.5; '-': none given):");
        output.WriteLine($"  {"DOMAIN",-20} {"UUID",-8} {"RELEASED (UTC)",-19} REASON");
        foreach (ReleaseEntry r in releases.Take(ReleasesShown))
            output.WriteLine($"  {Truncate(r.Domain, 20),-20} {ShortUuid(r.Uuid ?? Guid.Empty),-8} {At(r.At),-19} {r.Reason}");
        if (releases.Count > ReleasesShown) output.WriteLine($"  ... and {releases.Count - ReleasesShown} earlier ones (--json lists them)");
    }

    private static string At(long unixSeconds) =>
        DateTimeOffset.FromUnixTimeSeconds(unixSeconds)
            .UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);

    private static string Describe(StatusReport.LowerDevice lower, IReadOnlySet<string> allowed)
    {
        string where = lower.Exists
            ? $"ifindex {lower.Ifindex}, {(lower.IsUp ? "up" : "DOWN: 'ip link set " + lower.Name + " up'")}"
            : "MISSING on this host";
        string allowedNote = allowed.Count > 0 && !allowed.Contains(lower.Name) ? ", not in AllowedLowerDevices" : "";
        return $"{lower.Name} ({where}{allowedNote})";
    }

    private static void WriteJson(TextWriter output, StatusReport report) => JsonOutput.Write(output, w =>
    {
        w.WriteString("stateDir", report.StateDir);
        w.WriteString("instance", report.Instance);
        w.WriteBoolean("stateUsable", report.Load.State is not null);
        if (report.Load.Problem is not null && report.Load.State is null) w.WriteString("stateProblem", report.Load.Problem);
        w.WriteString("namePrefix", report.Scheme.Prefix);
        w.WriteNumber("capacity", report.Scheme.Capacity);
        w.WriteNumber("heldManagedNames", report.Load.State?.HeldManagedNames ?? 0);
        w.WriteNumber("problems", report.Problems);
        w.WriteNumber("heldForGoneDefinitions", report.HeldForGoneDefinitions);
        w.WriteBoolean("agrees", report.Agrees);
        w.WriteStrings("skippedRecords", report.Load.State?.Skipped ?? []);
        w.WriteStrings("unreadableStatusFiles", report.UnreadableStatusFiles);
        w.WriteObjects("names", report.Entries, (AuditEntry e) =>
        {
            w.WriteString("name", e.Name);
            w.WriteString("heldAs", HeldAs(e));
            w.WriteString("lower", e.Lower);
            w.WriteString("domain", e.DomainName);
            w.WriteString("uuid", e.Domain == Guid.Empty ? "" : e.Domain.ToString("D"));
            w.WriteString("mac", Mac(e.Mac));
            w.WriteString("mode", e.Mode.Name());
            w.WriteString("guard", e.Guard.Name());
            w.WriteNumber("ifindex", e.Ifindex);
            w.WriteString("link", e.LinkState.Word());
            ProblemWords? problem = e.Problem?.Words();
            w.WriteStringOrNull("problem", problem?.Text);
            if (problem is { } p) w.WriteString("advice", p.AdviceFor(e.Name, e.DomainName, e.Lower));
        });
        w.WriteObjects("lowerDevices", report.Lowers, (StatusReport.LowerDevice l) =>
        {
            w.WriteString("name", l.Name);
            w.WriteBoolean("exists", l.Exists);
            w.WriteNumber("ifindex", l.Ifindex);
            w.WriteBoolean("up", l.IsUp);
            w.WriteBoolean("allowed", report.Allowed.Count == 0 || report.Allowed.Contains(l.Name));
            w.WriteNumber("names", l.Names);
        });
        w.WriteObjects("unrecordedLinks", report.Unrecorded, (StatusReport.UnrecordedLink l) =>
        {
            w.WriteString("name", l.Name);
            w.WriteNumber("ifindex", l.Ifindex);
            w.WriteString("kind", l.Kind);
            w.WriteString("lower", l.Lower);
            w.WriteString("mac", Mac(l.Mac));
            w.WriteString("madeBy", l.MadeBy);
        });
        w.WriteObjects("lastReleases", report.LastReleases, (ReleaseEntry r) =>
        {
            w.WriteString("domain", r.Domain);
            w.WriteString("uuid", r.Uuid is { } uuid ? uuid.ToString("D") : "");
            w.WriteString("at", DateTimeOffset.FromUnixTimeSeconds(r.At).ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteStringOrNull("reason", r.Reason == "-" ? null : r.Reason);
        });
        w.WriteObjects("orphanGuards", report.Orphans, (StatusReport.OrphanGuard o) =>
        {
            w.WriteString("table", o.Table);
            w.WriteString("uuid", o.Domain.ToString("D"));
            w.WriteString("advice", OutputVocabulary.OrphanGuardAdvice);
        });
        WriteListener(w, report.Listener);
        w.WriteObjects("linksWithHostAddresses", report.Speaking, (SpeakingLink l) =>
        {
            w.WriteString("name", l.Link.Name);
            w.WriteNumber("ifindex", l.Link.Index);
            w.WriteStrings("addresses", l.Addresses.Select(a => a.ToString()));
            w.WriteString("advice", l.Advice());
        });
    });

    private static void WriteListener(System.Text.Json.Utf8JsonWriter w, ListenerView listener)
    {
        w.WriteStartObject("listener");
        w.WriteBoolean("running", listener.Running);
        w.WriteString("state", listener.Describe(At));
        if (listener.Live is { } m)
        {
            w.WriteNumber("pid", m.Pid);
            w.WriteString("uri", m.Uri);
            w.WriteString("connectedSince", Iso(m.ConnectedSince));
            w.WriteNumber("linksSetUp", m.LinksSetUp);
            w.WriteNumber("linksSetDown", m.LinksSetDown);
            w.WriteNumber("reconciles", m.Reconciles);
            w.WriteString("lastReconcile", Iso(m.LastReconcileAt));
            w.WriteNumber("events", m.Events);
            w.WriteNumber("failures", m.Failures);
            w.WriteString("lastFailure", m.LastFailure);
            w.WriteNumber("repairs", m.Repairs);
            w.WriteNumber("repairFailures", m.RepairFailures);
            w.WriteNumber("announces", m.Announces);
            w.WriteNumber("announceFailures", m.AnnounceFailures);
        }
        w.WriteEndObject();
    }

    private static string Iso(long unixSeconds) =>
        DateTimeOffset.FromUnixTimeSeconds(unixSeconds).ToString("O", System.Globalization.CultureInfo.InvariantCulture);

    internal static string HeldAs(AuditEntry e) => e.Holding?.Word() ?? "none";
    internal static string Mac(MacAddress mac) => mac.Value == 0 ? "" : mac.ToString();
    private static string ShortUuid(Guid uuid) => uuid == Guid.Empty ? "-" : uuid.ToString("N")[..8];
    private static string Truncate(string text, int width) => text.Length <= width ? text : text[..(width - 1)] + "~";
}
