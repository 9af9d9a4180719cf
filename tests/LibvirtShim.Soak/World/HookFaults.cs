using System.Globalization;
using System.Runtime.InteropServices;
using LibvirtShim.EndToEnd.Infrastructure;
using LibvirtShim.Soak.Model;

namespace LibvirtShim.Soak.World;

/// <summary>What an armed kill did: whether the matching hook call came, and its exit status (137 when SIGKILL ended it).</summary>
/// <param name="SignalledAt">When the wrapper sent SIGKILL (whether or not the call had ended by then).</param>
public sealed record KillOutcome(bool Fired, int? ExitCode, DateTimeOffset? SignalledAt = null)
{
    public bool Killed => ExitCode == 137;

    public string Describe(string call, int delayMs) =>
        !Fired ? $"hook {call} never called"
        : Killed ? $"hook {call} killed -9 after {delayMs} ms"
        : ExitCode is { } code ? $"hook {call} had finished (exit {code}) before the kill at {delayMs} ms"
        : $"hook {call} called, its end not seen";
}

/// <summary>
/// The hook killed with SIGKILL at a moment chosen from the seed: on each host a wrapper takes the place of the hook
/// symlink that hooks/install.sh made (/etc/libvirt/hooks/qemu, in the host's own root). It runs the real hook
/// (libvirt-shim hook ARGS, the domain XML on its stdin, its output to libvirt); once armed with "OP SUBOP DOMAIN
/// SECONDS" in its plan file, the first call that matches is killed that long after it started, and the wrapper exits
/// with the killed call's status, as libvirt would see a hook the kernel killed. The symlink is put back at the end.
/// </summary>
public sealed class HookFaults
{
    public const string PlanFile = "/run/libvirt/shim-soak/kill-plan";
    private const string Marker = "# libvirt-shim soak wrapper";
    private const string HookFile = "/etc/libvirt/hooks/qemu";

    private readonly Dictionary<Site, (SoakSite Site, string Target)> _installed = [];
    private readonly List<PosixSignalRegistration> _signals = [];

    private static string Script => $"""
        #!/bin/sh
        {Marker} (tests/LibvirtShim.Soak): the hook, killed with SIGKILL when armed; the hook symlink comes back at the end.
        plan={PlanFile}
        real={ShimStatus.Executable}
        if [ -f "$plan" ] && read -r op subop domain delay <"$plan" && [ "$1 $2 $3" = "$domain $op $subop" ] \
            && mv "$plan" "$plan.fired" 2>/dev/null; then
            exec 3<&0
            "$real" hook "$@" <&3 3<&- &
            pid=$!
            sleep "$delay"
            kill -KILL "$pid" 2>/dev/null
            echo "at $(date +%s.%N)" >>"$plan.fired"
            wait "$pid"
            rc=$?
            echo "$rc" >>"$plan.fired"
            exit "$rc"
        fi
        exec "$real" hook "$@"

        """;

    /// <summary>Puts the wrapper in place of <paramref name="site"/>'s hook symlink (which must point to libvirt-shim).</summary>
    public void Install(SoakSite site)
    {
        string hook = site.HostPath(HookFile);
        string target = new FileInfo(hook).LinkTarget
            ?? throw new InvalidOperationException($"{site.Label}: {hook} is not the symlink hooks/install.sh makes (a wrapper left behind?)");
        if (!target.EndsWith("/libvirt-shim", StringComparison.Ordinal))
            throw new InvalidOperationException($"{site.Label}: {hook} points to {target}, not libvirt-shim");
        Directory.CreateDirectory(Path.GetDirectoryName(site.HostPath(PlanFile))!);
        Disarm(site);
        string temporary = hook + ".soak-new";
        File.WriteAllText(temporary, Script);
        File.SetUnixFileMode(temporary, (UnixFileMode)0b111_101_101);
        File.Move(temporary, hook, overwrite: true);
        // A run stopped with SIGTERM or SIGINT puts the symlinks back too (one killed with SIGKILL leaves the wrapper): the test
        // platform ends on SIGTERM without raising ProcessExit, so the signals are handled here (then the default goes on).
        if (_installed.Count == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Uninstall();
            foreach (PosixSignal signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT })
                _signals.Add(PosixSignalRegistration.Create(signal, _ => Uninstall()));
        }
        _installed[site.Site] = (site, target);
    }

    /// <summary>Arms a kill of the next call <paramref name="call"/> for <paramref name="domain"/>, <paramref name="delayMs"/> after it starts.</summary>
    public void Arm(SoakSite site, HookCall call, string domain, int delayMs)
    {
        Disarm(site);
        string seconds = (delayMs / 1000.0).ToString("0.000", CultureInfo.InvariantCulture);
        File.WriteAllText(site.HostPath(PlanFile) + ".new", $"{call.Op} {call.SubOp} {domain} {seconds}\n");
        File.Move(site.HostPath(PlanFile) + ".new", site.HostPath(PlanFile), overwrite: true);
    }

    /// <summary>Takes the plan back (if no call took it) and says what the armed kill did.</summary>
    public KillOutcome Disarm(SoakSite site)
    {
        string plan = site.HostPath(PlanFile);
        File.Delete(plan);
        string fired = plan + ".fired";
        if (!File.Exists(fired)) return new KillOutcome(false, null);
        // The plan's line, "at SECONDS" once SIGKILL was sent, then the exit status once the killed call was reaped.
        string[] lines = File.ReadAllLines(fired);
        File.Delete(fired);
        return new KillOutcome(true, ExitCodeIn(lines), SignalledAtIn(lines));
    }

    /// <summary>What the last <see cref="Settle"/> returned.</summary>
    public KillOutcome? Settled { get; private set; }

    /// <summary>Waits (bounded) until the armed call, if it came, has ended; returns what the kill did.</summary>
    public KillOutcome Settle(SoakSite site)
    {
        string fired = site.HostPath(PlanFile) + ".fired";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (File.Exists(fired) && ExitCodeIn(File.ReadAllLines(fired)) is null && DateTime.UtcNow < deadline) Thread.Sleep(50);
        return Settled = Disarm(site);
    }

    private static int? ExitCodeIn(string[] lines) => lines.Length > 1 && int.TryParse(lines[^1], out int rc) ? rc : null;

    private static DateTimeOffset? SignalledAtIn(string[] lines) =>
        lines.FirstOrDefault(l => l.StartsWith("at ", StringComparison.Ordinal)) is { } at &&
        decimal.TryParse(at[3..], NumberStyles.Number, CultureInfo.InvariantCulture, out decimal seconds)
            ? DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000)) : null;

    /// <summary>Puts each host's hook symlink back as hooks/install.sh made it.</summary>
    public void Uninstall()
    {
        lock (_installed)
        {
            foreach (var (site, target) in _installed.Values)
            {
                string hook = site.HostPath(HookFile);
                Disarm(site);
                if (File.Exists(hook) && File.ReadAllText(hook).Contains(Marker, StringComparison.Ordinal)) File.Delete(hook);
                if (!File.Exists(hook) && new FileInfo(hook).LinkTarget is null) File.CreateSymbolicLink(hook, target);
            }
            _installed.Clear();
        }
    }
}
