using System.Diagnostics;
using LibvirtShim.State;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Reliability;

/// <summary>
/// The state lock is flock on its own file: the kernel drops it when its holder dies, so a killed hook blocks nobody;
/// a live holder makes the others wait at most LockTimeoutSeconds, then fail with one clear line.
/// </summary>
[Collection(ProcessHeavy.Name)]
public sealed class LockTests
{
    private static readonly Guest Web = Guest.Make("web", 1, 4, firstName: 0);
    private static readonly Guest Db = Guest.Make("db", 2, 4, firstName: 10);

    /// <summary>
    /// A real hook holds the lock and is stuck: with no state to read it seeds (large status files make that last), and
    /// it is stopped (SIGSTOP) once /proc/locks shows its flock. (A FIFO as a status file no longer stops a hook: it is
    /// refused without waiting.)
    /// </summary>
    [Fact]
    public void AHookKilledWhileHoldingTheLockBlocksNobodyAndAStuckOneMakesOthersTimeOut()
    {
        using var h = HookHarness.Create();
        string padding = new('x', 6 * 1024 * 1024);
        for (int i = 0; i < 8; i++)
            h.WriteStatusFile($"pad{i}", $"<domain type='kvm'><name>pad{i}</name><uuid>{TestDomains.Uuid(900 + i)}</uuid><!-- {padding} -->" +
                "</domain>");

        using Process holder = h.StartProcess("hook", Web.Name, "prepare", "begin", "-");
        holder.StandardInput.Write(Web.Xml);
        holder.StandardInput.Close();
        StopOnceItHoldsTheLock(holder, Path.Combine(h.Settings.StateDir, "lock"));
        // The holder is stopped inside the lock, seeding.
        h.Settings.LockTimeoutSeconds = 1;
        var waited = Stopwatch.StartNew();
        HookResult timedOut = h.RunProcess(Db.Name, "prepare", "begin", Db.Xml);
        waited.Stop();
        Assert.Equal(1, timedOut.ExitCode);
        Assert.Equal(TimedOut(h, Db), timedOut.Stderr);
        Assert.InRange(waited.Elapsed.TotalSeconds, 1, 8);

        HookResult reconnect = h.RunProcess(Db.Name, "reconnect", "begin", Db.Xml);
        Assert.Equal((0, TimedOut(h, Db)), (reconnect.ExitCode, reconnect.Stderr));

        holder.Kill();
        holder.WaitForExit();
        Assert.Equal(137, holder.ExitCode);

        h.Settings.LockTimeoutSeconds = 5;
        HookResult next = h.RunProcess(Db.Name, "prepare", "begin", Db.Xml);

        Assert.Equal((0, ""), (next.ExitCode, next.Stderr));
        NameState state = Invariants.Hold(h, "after the holder was killed", [Web.Uuid, Db.Uuid]);
        Assert.Equal(4, state.OfDomain(Db.Uuid).Count);
        Assert.Empty(state.OfDomain(Web.Uuid));
        Assert.DoesNotContain(h.Ns.Links(), l => l.Alias?.Contains(Web.Uuid.ToString()) == true);
    }

    /// <summary>The lock held by this test: every operation waits about LockTimeoutSeconds, then says so in one line.</summary>
    [Theory]
    [InlineData("prepare", "begin", 1)]
    [InlineData("release", "end", 1)]
    [InlineData("migrate", "begin", 1)]
    [InlineData("reconnect", "begin", 0)]
    public void WaitingForALiveHolderIsBoundedAndEndsInAClearError(string operation, string subOperation, int exitCode)
    {
        using var h = HookHarness.Create();
        Assert.Equal(0, h.Run(Db.Name, "prepare", "begin", Db.Xml).ExitCode);
        h.Settings.LockTimeoutSeconds = 1;
        var linksBefore = h.Ns.Links();
        byte[] stateBefore = File.ReadAllBytes(Path.Combine(h.Settings.StateDir, "state"));

        HookResult result;
        var waited = Stopwatch.StartNew();
        using (new StateStore(h.Settings.StateDir, TimeSpan.FromSeconds(1)).LockToChange())
            result = h.RunProcess(Db.Name, operation, subOperation, Db.Xml);
        waited.Stop();

        Assert.Equal((exitCode, TimedOut(h, Db), ""), (result.ExitCode, result.Stderr, result.Stdout));
        Assert.InRange(waited.Elapsed.TotalSeconds, 1, 8);
        Assert.Equal(linksBefore, h.Ns.Links());
        Assert.Equal(stateBefore, File.ReadAllBytes(Path.Combine(h.Settings.StateDir, "state")));
    }

    [Fact]
    public void TheSeedVerbTimesOutTheSameWay()
    {
        using var h = HookHarness.Create();
        h.Settings.LockTimeoutSeconds = 1;
        HookResult result;
        using (new StateStore(h.Settings.StateDir, TimeSpan.FromSeconds(1)).LockToChange())
            result = HookHarness.Finish(h.StartProcess("seed"), "");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("libvirt-shim: " +
            $"timed out after 1 s waiting for the state lock {h.Settings.StateDir}/lock (another libvirt-shim holds it; " +
            "LockTimeoutSeconds sets the wait)", result.Stderr);
        HookProcesses.AssertOneLineWithoutStackTrace(result.Stderr, "seed");
    }

    /// <summary>A holder that dies while another hook waits: the waiter goes on as soon as the kernel drops the lock.</summary>
    [Fact]
    public void AWaiterGoesOnWhenTheHolderDies()
    {
        using var h = HookHarness.Create();
        h.Settings.LockTimeoutSeconds = 30;
        string lockPath = Path.Combine(h.Settings.StateDir, "lock");
        using (new StateStore(h.Settings.StateDir, TimeSpan.FromSeconds(1)).LockToChange()) { }

        // A separate process holds the lock: util-linux flock, told to print once it holds it.
        using Process holder = Process.Start(new ProcessStartInfo("flock", ["-x", lockPath, "-c", "echo held; exec cat"])
        { RedirectStandardInput = true, RedirectStandardOutput = true })!;
        Assert.Equal("held", holder.StandardOutput.ReadLine());
        using Process waiter = h.StartProcess("hook", Db.Name, "prepare", "begin", "-");
        var waited = Stopwatch.StartNew();
        holder.Kill(entireProcessTree: true);
        holder.WaitForExit();
        HookResult result = HookHarness.Finish(waiter, Db.Xml);
        waited.Stop();

        Assert.Equal((0, ""), (result.ExitCode, result.Stderr));
        Assert.True(waited.Elapsed.TotalSeconds < 10, $"the waiter took {waited.Elapsed.TotalSeconds:0.0} s");
        Invariants.Hold(h, "after the holder died", [Db.Uuid]);
    }

    /// <summary>
    /// Stops the holder once the kernel lists its exclusive flock on the state lock file (matched by inode: .NET takes
    /// shared flocks of its own on the files it reads, and the log rotation one on its lock file); fails if it ends first.
    /// </summary>
    private static void StopOnceItHoldsTheLock(Process holder, string lockPath)
    {
        var waited = Stopwatch.StartNew();
        string? inode = null;
        while (!holder.HasExited && waited.Elapsed < TimeSpan.FromSeconds(60))
        {
            inode ??= File.Exists(lockPath) ? Inode(lockPath) : null;
            if (inode is not null && HoldsTheLock(holder.Id, inode))
            {
                Assert.Equal(0, Kill(holder.Id, SIGSTOP));
                // A test thread descheduled between the look and the signal could stop it just after it let go.
                Assert.True(HoldsTheLock(holder.Id, inode),
                    "the holder let the lock go before it was stopped (this machine is too loaded for the test)");
                return;
            }
        }
        Assert.Fail(holder.HasExited
            ? $"the holder ended (exit {holder.ExitCode}: {holder.StandardError.ReadToEnd()}) before it was seen holding the lock"
            : "the holder was not seen holding the lock within 60 s");
    }

    /// <summary>/proc/locks: "1: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INODE 0 EOF".</summary>
    private static bool HoldsTheLock(int pid, string inode) =>
        File.ReadLines("/proc/locks").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Any(f =>
            f.Length > 5 && f[1] == "FLOCK" && f[3] == "WRITE" && f[4] == pid.ToString(System.Globalization.CultureInfo.InvariantCulture)
            && f[5].EndsWith(":" + inode, StringComparison.Ordinal));

    private static string Inode(string path)
    {
        using Process stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%i", path]) { RedirectStandardOutput = true })!;
        string inode = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        return inode;
    }

    private const int SIGSTOP = 19;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private static string TimedOut(HookHarness h, Guest guest) =>
        $"libvirt-shim: domain '{guest.Name}': " +
            $"timed out after 1 s waiting for the state lock {h.Settings.StateDir}/lock (another libvirt-shim holds it; " +
            "LockTimeoutSeconds sets the wait)\n";
}
