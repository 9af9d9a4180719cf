using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Net;

namespace LibvirtShim.Reports;

/// <summary>Something that stops <c>prepare</c>: the line the hook would print, and what the administrator can do.</summary>
internal sealed record PreviewProblem(string Message, string Advice);

/// <summary>
/// What <c>prepare</c> would do with one owned NIC (explain words it: OutputVocabulary): <see cref="Action"/> with the
/// link on its name (<see cref="ExistingIndex"/>, kept or replaced), unless a problem stops it; <see cref="LowerMtu"/>
/// is 0 when the lower device is not found; <see cref="Guard"/> is the guard it would get (<see cref="GuardFromSetting"/>: from
/// the Guard setting, the NIC saying nothing).
/// </summary>
internal sealed record NicPreview(
    OwnedNic Nic, string? Lower, string LowerNote, LinkAction Action, int ExistingIndex, List<PreviewProblem> Problems, List<string> Warnings,
    uint LowerMtu, GuardMode Guard = GuardMode.Off, bool GuardFromSetting = false)
{
    public bool Fails => Problems.Count > 0;

    /// <summary>The addresses a guard='ip' lets it send from: its ips= and the link-local address its MAC gives.</summary>
    public IEnumerable<IpPrefix> GuardAddresses => Nic.Addresses.Append(IpPrefix.LinkLocal(Nic.Mac));

    /// <summary>"mtu 9000, allmulticast on", or "mtu 1500 (the lower device's), allmulticast off, frames from 52:54:00:cc:00:01 only".</summary>
    public string LinkSettings
    {
        get
        {
            string mtu = Nic.Mtu != 0 ? $"mtu {Nic.Mtu}" : LowerMtu != 0 ? $"mtu {LowerMtu} (the lower device's)" : "mtu of the lower device";
            string sources = Nic.SourceMacs is { } macs ? $", frames from {macs} only" : "";
            return $"{mtu}, allmulticast {(Nic.AllMulticast ? "on" : "off")}{sources}";
        }
    }
}

/// <summary>
/// What <c>prepare begin</c> would do for a domain on this host, for <c>explain</c>: <see cref="Failure"/> is the line
/// prepare would fail with (null when it would succeed), from <see cref="PreparePlanner"/>, the planner prepare itself
/// runs; <see cref="LikelyKernelFailure"/> is what the kernel would most likely refuse when the links are created.
/// </summary>
internal sealed record PreparePreview(
    DomainDescription Domain, string? StateNote, List<NicPreview> Nics, PreviewProblem? Failure, PreviewProblem? LikelyKernelFailure)
{
    public bool WouldSucceed => Failure is null && LikelyKernelFailure is null;
}
