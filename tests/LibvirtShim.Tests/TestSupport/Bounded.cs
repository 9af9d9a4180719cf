using System.Runtime.ExceptionServices;
using Xunit;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>For calls that must never wait forever: a call that has not returned within its limit fails the test instead of hanging it.</summary>
internal static class Bounded
{
    public static T Run<T>(Func<T> call, TimeSpan limit, string what)
    {
        T? result = default;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = call();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.IsBackground = true;
        thread.Start();
        if (!thread.Join(limit)) Assert.Fail($"{what} did not return within {limit.TotalSeconds:0} s");
        if (failure is not null) ExceptionDispatchInfo.Throw(failure);
        return result!;
    }

    public static void Run(Action call, TimeSpan limit, string what) => Run(() => { call(); return 0; }, limit, what);
}
