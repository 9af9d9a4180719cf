using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Net;
using LibvirtShim.Reports;
using LibvirtShim.Reports.Doctor;
using LibvirtShim.State;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>
/// The words status (text, --json, prometheus), doctor --json, replay and explain print for typed facts: scripts and
/// dashboards read them, so each member of each enum has exactly these, whatever its C# name.
/// </summary>
public sealed class OutputVocabularyTests
{
    [Fact]
    public void EveryDisagreementHasItsKindTextAndAdvice()
    {
        (AuditProblem Problem, string Kind, string Text)[] expected =
        [
            (AuditProblem.MissingLink, "missing_link", "missing link"),
            (AuditProblem.LinkLost, "link_lost", "link lost while the guest runs"),
            (AuditProblem.LinkLostWithUplink, "link_lost_uplink_missing", "link lost with its uplink, which is missing"),
            (AuditProblem.LinkReplaced, "link_replaced_by_someone_else", "link replaced by someone else"),
            (AuditProblem.StartPending, "start_pending", "start pending: prepared, domain not running yet"),
            (AuditProblem.DomainNotRunning, "domain_not_running", "domain not running: its release never came"),
            (AuditProblem.StaleLibvirtLink, "stale_domain_not_running", "stale: domain not running"),
            (AuditProblem.ReservationExpired, "stale_reservation_expired", "stale: reservation expired"),
            (AuditProblem.ForeignLinkOnName, "a_link_someone_else_made_sits_on_this_name", "a link someone else made sits on this name"),
            (AuditProblem.LeakedLink, "leaked_link", "leaked link: libvirt-shim's mark, no record"),
            (AuditProblem.Unlabelled, "unlabelled_link", "unlabelled link: a prepare was killed before marking it"),
            (AuditProblem.UnlabelledUnknown, "unlabelled_link",
                "unlabelled link: a prepare was killed before marking it; its domain is not known here"),
            (AuditProblem.DefinitionGone, "definition_gone", "definition gone: will be freed at the next allocation or seed"),
            (AuditProblem.GuardMissing, "guard_missing", "guard missing: the link's guard is not in the kernel"),
            (AuditProblem.RunningGuestLinkDown, "running_guest_link_down", "the guest's vCPUs run but its link is down"),
        ];
        Assert.Equal(Enum.GetValues<AuditProblem>().Order(), expected.Select(e => e.Problem).Order());
        foreach (var (problem, kind, text) in expected)
        {
            ProblemWords words = problem.Words();
            Assert.Equal((kind, text), (words.Kind, words.Text));
            Assert.Matches("^[a-z][a-z0-9_]*$", words.Kind);
            Assert.False(string.IsNullOrWhiteSpace(words.Advice), $"{problem} has no advice");
        }
        Assert.Contains("delete that link ('ip link del mvtap7')", AuditProblem.ForeignLinkOnName.Words().AdviceFor("mvtap7"));
    }

    [Fact]
    public void TheReadmeListsEveryDisagreementKind()
    {
        string readme = File.ReadAllText(Path.Combine(TestSupport.SampleFiles.RepositoryRoot, "README.md"));
        string row = readme.Split('\n').Single(l => l.StartsWith("| `libvirt_shim_disagreements` |", StringComparison.Ordinal));
        foreach (AuditProblem problem in Enum.GetValues<AuditProblem>())
        {
            if (problem.IsDisagreement()) Assert.Contains($"`{problem.Words().Kind}`", row);
            else Assert.DoesNotContain($"`{problem.Words().Kind}`", row);
        }
    }

    [Fact]
    public void HoldingsCheckStatusesLinkStatesAndModesHaveTheirWords()
    {
        Assert.Equal(["reserved", "defined", "created", "libvirt", "foreign"], Enum.GetValues<Holding>().Select(h => h.Word()));
        Assert.Equal(["ok", "warn", "fail"], Enum.GetValues<CheckStatus>().Select(s => s.Word()));
        Assert.Equal(["absent", "up", "down"], Enum.GetValues<LinkPresence>().Select(p => p.Word()));
        Assert.Equal(["private", "vepa", "bridge", "passthru", "source"], Enum.GetValues<MacvtapMode>().Select(m => m.Name()));
    }

    [Fact]
    public void ExplainWordsWhatPrepareWouldDoWithEachLink()
    {
        Assert.True(MacAddress.TryParse("52:54:00:aa:01:01", out MacAddress mac));
        var nic = new OwnedNic(mac, "mvtap1", "uplink0", null, MacvtapMode.Bridge);
        NicPreview Preview(LinkAction action, int existing = 0, int problems = 0) =>
            new(nic, "uplink0", "uplink0", action, existing, [.. Enumerable.Repeat(new PreviewProblem("p", "a"), problems)], [], 0);

        Assert.Equal("create the macvtap", Preview(LinkAction.Create).ActionText());
        Assert.Equal("keep its macvtap from an earlier prepare (ifindex 12)", Preview(LinkAction.Keep, 12).ActionText());
        Assert.Equal("replace its macvtap from an earlier prepare (ifindex 12: other MAC, lower device, mode, MTU or allmulticast, "
            + "down, or unlabelled)", Preview(LinkAction.Replace, 12).ActionText());
        Assert.Equal("fails", Preview(LinkAction.Create, problems: 1).ActionText());
        Assert.Equal(3, Enum.GetValues<LinkAction>().Length);
    }
}
