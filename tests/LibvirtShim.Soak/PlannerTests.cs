using LibvirtShim.Soak.Model;
using LibvirtShim.Soak.Operations;
using Xunit;

namespace LibvirtShim.Soak;

/// <summary>
/// The planner alone, against the model (no libvirt, no root): a seed chooses the same steps every time (what lets a
/// failing seed replay), and in a long run every operation comes up, the gated ones only with their feature.
/// </summary>
public sealed class PlannerTests
{
    private static readonly Features All = new(Listener: true, Repair: true, Guard: true);

    [Fact]
    public void OneSeed_ChoosesTheSameStepsAndArguments_AnotherSeedOthers()
    {
        var first = Simulate(4242, 3000, All);
        Assert.Equal(first, Simulate(4242, 3000, All));
        Assert.NotEqual(first, Simulate(4243, 3000, All));
    }

    [Fact]
    public void ALongRun_ChoosesEveryOperation()
    {
        var kinds = Simulate(7, 5000, All).Select(s => s.Kind).ToHashSet();
        var missing = Planner.Operations.Select(o => o.Name).Where(n => !kinds.Contains(n) && !kinds.Contains(n + "-restart")).ToList();
        Assert.True(missing.Count == 0, $"never chosen in 5000 steps: {string.Join(", ", missing)}");
    }

    [Fact]
    public void WithoutRepair_NoUplinkIsDeleted_WithoutTheListener_NoneIsKilled()
    {
        Assert.DoesNotContain(Simulate(7, 5000, Features.None), s => s is UplinkFlapStep or ListenerKillStep or ReconcileHookKillStep);
    }

    [Fact]
    public void AStartDuringAnArrival_StartsAnotherGuestWithoutAnOs_WhereTheCappedMigrationGoes()
    {
        var model = new SoakModel(Fleet.Create(), All);
        var planner = new Planner(new SoakRandom(7));
        int seen = 0;
        for (int i = 0; i < 5000; i++)
        {
            Step step = planner.Next(model);
            if (step is StartDuringArrivalStep s)
            {
                seen++;
                Assert.True(s.Migration.Capped && s.Start.Site == s.Migration.To && s.Start.Guest != s.Migration.Guest, $"step {i}: {s}");
                Assert.False(model[s.Migration.Guest].Spec.Booted || model[s.Start.Guest].Spec.Booted, $"step {i}: {s}");
                Assert.True(model[s.Start.Guest].ActiveOn is null && model[s.Start.Guest].IsDefinedOn(s.Migration.To), $"step {i}: {s}");
            }
            step.Apply(model);
        }
        Assert.True(seen > 0, "never chosen in 5000 steps");
    }

    [Fact]
    public void AMigrationIsLookedAtInFlight_ExceptWhileItsListenerRestarts()
    {
        var steps = Simulate(7, 5000, All);
        var plain = steps.OfType<MigrateStep>().ToList();
        var beside = steps.OfType<ReconcileHookKillStep>().Select(r => r.Kill.Inner).OfType<MigrateStep>().ToList();
        Assert.Contains(plain, m => m.Capped);
        Assert.All(plain, m => Assert.True(m.LookInFlight));
        Assert.NotEmpty(beside);
        Assert.All(beside, m => Assert.False(m.LookInFlight));
    }

    [Fact]
    public void NoStepStartsAGuestTwice_NorTouchesAGuestWhereItIsNot()
    {
        var model = new SoakModel(Fleet.Create(), All);
        var planner = new Planner(new SoakRandom(99));
        for (int i = 0; i < 5000; i++)
        {
            Step step = planner.Next(model);
            string? wrong = step switch
            {
                StartStep s when model[s.Guest].ActiveOn is not null => "starts an active guest",
                RestoreStep r when model[r.Guest].ActiveOn is not null || !model[r.Guest].Saved => "restores what is not saved",
                MigrateStep m when model[m.Guest].ActiveOn != m.From || model[m.Guest].Paused => "migrates from where it does not run",
                DetachStep { Live: true } d when !model[d.Guest].Spec.Booted => "unplugs live from a guest without an OS",
                _ => null,
            };
            Assert.True(wrong is null, $"step {i}: {step} {wrong}");
            step.Apply(model);
        }
    }

    private static List<Step> Simulate(ulong seed, int steps, Features features)
    {
        var model = new SoakModel(Fleet.Create(), features);
        var planner = new Planner(new SoakRandom(seed));
        var chosen = new List<Step>();
        for (int i = 0; i < steps; i++)
        {
            Step step = planner.Next(model);
            chosen.Add(step);
            step.Apply(model);
        }
        return chosen;
    }
}
