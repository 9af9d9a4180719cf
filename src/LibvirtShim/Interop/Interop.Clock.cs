using System.Runtime.InteropServices;

internal static partial class Interop
{
    /// <summary>clock_gettime for the clocks .NET does not expose: the wall clock and the time since boot, in nanoseconds.</summary>
    internal static partial class Clock
    {
        private const int CLOCK_REALTIME = 0, CLOCK_BOOTTIME = 7;

        /// <summary>Nanoseconds since the epoch.</summary>
        public static long RealtimeNanoseconds() => Read(CLOCK_REALTIME);

        /// <summary>Nanoseconds since boot, suspended time included: the clock of /proc/PID/stat's start time.</summary>
        public static long BoottimeNanoseconds() => Read(CLOCK_BOOTTIME);

        private static unsafe long Read(int clock)
        {
            long* timespec = stackalloc long[2];
            if (clock_gettime(clock, timespec) != 0)
                throw new IOException($"clock_gettime({clock}): {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            return timespec[0] * 1_000_000_000 + timespec[1];
        }

        [LibraryImport("libc", SetLastError = true)]
        private static unsafe partial int clock_gettime(int clock, long* timespec);
    }
}
