using LibvirtShim.Domain;
using LibvirtShim.Listener;
using Xunit;

namespace LibvirtShim.Tests.Listener;

/// <summary>How libvirt's events wait for the listener, and what an event itself says of the guest's state.</summary>
public sealed class ListenerInboxTests
{
    private static readonly Guid Web = Guid.Parse("6d1c1a5e-1f6c-4a0e-9b55-3c2f0e3a7a11");
    private static readonly Guid Db = Guid.Parse("0b8f4ad6-2e5a-49a8-9bfb-6a0f1c2d3e44");

    [Fact]
    public void A_guest_waiting_is_queued_once_and_taken_with_its_last_event()
    {
        var inbox = new ListenerInbox();
        inbox.DomainChanged(Web, 3, 1);   // suspended migrated
        inbox.DomainChanged(Db, 2, 1);    // started migrated
        inbox.DomainChanged(Web, 4, 1);   // resumed migrated

        var first = Assert.IsType<ListenerSignal.GuestChanged>(inbox.Take(TimeSpan.Zero, CancellationToken.None));
        Assert.Equal((Web, "resumed migrated", 4), (first.Uuid, first.Event, first.LastEvent));
        var second = Assert.IsType<ListenerSignal.GuestChanged>(inbox.Take(TimeSpan.Zero, CancellationToken.None));
        Assert.Equal((Db, "started migrated"), (second.Uuid, second.Event));
        Assert.Null(inbox.Take(TimeSpan.Zero, CancellationToken.None));

        inbox.DomainChanged(Web, -1, 2);  // a metadata change after it was taken: queued again
        Assert.Equal("metadata changed", Assert.IsType<ListenerSignal.GuestChanged>(inbox.Take(TimeSpan.Zero, CancellationToken.None)).Event);
    }

    [Fact]
    public void The_connection_closing_is_a_signal_of_its_own()
    {
        var inbox = new ListenerInbox();
        inbox.ConnectionClosed(1);
        Assert.Equal("end of file: the daemon went away",
            Assert.IsType<ListenerSignal.ConnectionClosed>(inbox.Take(TimeSpan.Zero, CancellationToken.None)).Reason);
    }

    [Theory]
    [InlineData(4, (int)GuestState.Running)]   // resumed: unpaused, migrated, post-copy, ...
    [InlineData(3, (int)GuestState.Paused)]    // suspended: paused, migrated, post-copy, ...
    [InlineData(2, -1)]                        // started: an arriving migration starts paused
    [InlineData(5, -1)]                        // stopped
    [InlineData(-1, -1)]                       // a metadata change
    public void Only_resumed_and_suspended_say_for_sure_whether_the_vcpus_run(int lifecycleEvent, int state) =>
        Assert.Equal(state < 0 ? null : (GuestState?)state, LifecycleEvents.Implied(lifecycleEvent));

    [Theory]
    [InlineData(4, 3, "resumed post-copy")]
    [InlineData(3, 7, "suspended post-copy")]
    [InlineData(3, 1, "suspended migrated")]
    [InlineData(2, 2, "started restored")]
    [InlineData(9, 0, "event 9 detail 0")]
    [InlineData(4, 9, "resumed detail 9")]
    public void Events_are_logged_in_libvirts_words(int lifecycleEvent, int detail, string words) =>
        Assert.Equal(words, LifecycleEvents.Describe(lifecycleEvent, detail));
}
