using LibvirtShim.Messages;
using LibvirtShim.State;
using Xunit;

namespace LibvirtShim.Tests.Listener;

/// <summary>
/// The listener's files in the state directory: the lock a hook call looks at without waiting (a real flock, held through
/// another open file description as another process would), the one-listener lock, and the figures status reads.
/// </summary>
public sealed class ListenerFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shim-listener-").FullName;

    [Fact]
    public void A_hook_sees_no_listener_then_a_connected_one_then_one_that_has_gone()
    {
        Assert.Equal(ListenerPresence.Absent, ListenerLock.Probe(_dir));

        using (ListenerLock.HoldLive(_dir, TimeSpan.FromSeconds(1)))
            Assert.Equal(ListenerPresence.Connected, ListenerLock.Probe(_dir));

        Assert.Equal(ListenerPresence.Gone, ListenerLock.Probe(_dir));
    }

    [Fact]
    public void A_probe_never_waits_and_never_stands_in_the_listeners_way_for_long()
    {
        using (ListenerLock.HoldLive(_dir, TimeSpan.FromSeconds(1))) { }
        for (int i = 0; i < 100; i++) Assert.Equal(ListenerPresence.Gone, ListenerLock.Probe(_dir));
        using var held = ListenerLock.HoldLive(_dir, TimeSpan.FromSeconds(1));
        Assert.Equal(ListenerPresence.Connected, ListenerLock.Probe(_dir));
    }

    [Fact]
    public void A_lock_file_that_is_a_symbolic_link_or_a_fifo_counts_as_no_listener_and_the_look_returns_at_once()
    {
        File.CreateSymbolicLink(Path.Combine(_dir, StateFile.ListenerLive.Name), "/etc/passwd");
        Assert.Equal(ListenerPresence.Unknown, ListenerLock.Probe(_dir));
        File.Delete(Path.Combine(_dir, StateFile.ListenerLive.Name));
        TestSupport.SpecialFiles.Fifo(Path.Combine(_dir, StateFile.ListenerLive.Name));
        Assert.NotEqual(ListenerPresence.Connected, ListenerLock.Probe(_dir));
    }

    [Fact]
    public void One_listener_per_state_directory_and_the_second_is_told_the_first_ones_pid()
    {
        using var first = ListenerLock.HoldInstance(_dir, 4242);
        ShimFailure failure = Assert.Throws<ShimFailure>(() => ListenerLock.HoldInstance(_dir, 4343));
        Assert.Equal($"another libvirt-shim watch runs for state directory {_dir} (pid 4242)", failure.Message);
        first.Dispose();
        using var second = ListenerLock.HoldInstance(_dir, 17);
        Assert.Equal("17", ListenerLock.RunningPid(_dir));
    }

    [Fact]
    public void The_figures_are_written_whole_and_read_back()
    {
        var metrics = ListenerMetrics.Starting(1234, 1_765_000_000, "qemu:///system") with
        {
            Connected = true,
            ConnectedSince = 1_765_000_001,
            Connections = 2,
            Events = 40,
            LinksSetUp = 12,
            LinksSetDown = 10,
            Reconciles = 3,
            LastReconcileAt = 1_765_000_100,
            Failures = 1,
            LastFailure = "virDomainGetXMLDesc: broken\npipe",
            Repairs = 4,
            RepairFailures = 1,
            Announces = 11,
            AnnounceFailures = 2,
        };
        metrics.Write(new StateFiles(_dir));

        ListenerMetrics? read = ReadMetrics(_dir);
        Assert.NotNull(read);
        Assert.Equal(metrics with { LastFailure = "virDomainGetXMLDesc: broken\\x0apipe" }, read);
        Assert.Equal("600", Convert.ToString((int)File.GetUnixFileMode(Path.Combine(_dir, StateFile.ListenerMetrics.Name)), 8));
        Assert.False(File.Exists(Path.Combine(_dir, StateFile.ListenerMetrics.Name + ".new")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not a metrics file")]
    [InlineData("# only a comment\n")]
    public void Something_else_in_the_figures_file_is_no_figures(string text)
    {
        File.WriteAllText(Path.Combine(_dir, StateFile.ListenerMetrics.Name), text);
        Assert.Null(ReadMetrics(_dir));
    }

    [Fact]
    public void Missing_or_garbled_values_read_as_zero_and_unknown_keys_are_ignored()
    {
        ListenerMetrics? read = ListenerMetrics.Decode("pid 9\nevents x\nlinks_set_up -3\nfuture_key 1\n");
        Assert.NotNull(read);
        Assert.Equal((9, 0L, 0L, false), (read.Pid, read.Events, read.LinksSetUp, read.Connected));
    }

    /// <summary>As status reads them: under the state directory's read lock.</summary>
    internal static ListenerMetrics? ReadMetrics(string stateDir)
    {
        using StateReadLease lease = new StateStore(stateDir, TimeSpan.FromSeconds(5)).LockToRead();
        return ListenerMetrics.Read(lease);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
