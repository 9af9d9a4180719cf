using System.Diagnostics;
using LibvirtShim.Devices;

namespace LibvirtShim.Tests.TestSupport;

/// <summary>
/// A mount namespace of a test's own, kept by a sleeping process: its /dev is an empty tmpfs (with null, zero, random and
/// urandom) and its /sys the test namespace's own sysfs (from <c>ip netns exec</c>). The hook's tap nodes for the
/// namespace's macvtaps go there, never into the host's /dev, where a node of the same ifindex may be a running guest's:
/// hook processes run inside it (<see cref="Enter"/>), and in-process calls reach it through /proc/PID/root
/// (<see cref="Taps"/>). It goes when the process is killed.
/// </summary>
internal sealed class DeviceSandbox : IDisposable
{
    private const string Script =
        "mount -t tmpfs -o mode=755 tmpfs /dev && mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/zero c 1 5 && " +
        "mknod -m 666 /dev/random c 1 8 && mknod -m 666 /dev/urandom c 1 9 && exec ip netns exec \"$0\" sleep infinity";

    private readonly Process _holder;
    private readonly string _namespace;

    private DeviceSandbox(Process holder, string netns)
    {
        _holder = holder;
        _namespace = netns;
    }

    /// <summary>Starts the holder for network namespace <paramref name="netns"/> and waits (bounded) until its /dev and /sys are in place.</summary>
    public static DeviceSandbox Start(string netns)
    {
        var start = new ProcessStartInfo("unshare") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in new[] { "--mount", "--propagation", "private", "sh", "-c", Script, netns }) start.ArgumentList.Add(a);
        var sandbox = new DeviceSandbox(Process.Start(start)!, netns);
        try
        {
            sandbox.WaitUntilReady();
            return sandbox;
        }
        catch
        {
            sandbox.Dispose();
            throw;
        }
    }

    /// <summary>The holder's /dev and /sys as the test process reaches them.</summary>
    public TapNodes Taps => new($"/proc/{_holder.Id}/root/dev", $"/proc/{_holder.Id}/root/sys");

    /// <summary>The tmpfs /dev, as the test process reaches it.</summary>
    public string Dev => Taps.DeviceRoot;

    /// <summary>A command line that runs a program in the sandbox's mount namespace and the network namespace.</summary>
    public string[] Enter => ["nsenter", $"--mount=/proc/{_holder.Id}/ns/mnt", $"--net=/run/netns/{_namespace}", "--"];

    /// <summary>Ready once the exec chain has reached sleep (ip netns exec has mounted the namespace's sysfs) and the tmpfs holds null.</summary>
    private void WaitUntilReady()
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (_holder.HasExited)
                throw new InvalidOperationException($"the device sandbox exited {_holder.ExitCode}: {_holder.StandardError.ReadToEnd()}");
            if (Comm() == "sleep" && File.Exists($"{Dev}/null") && Directory.Exists($"{Taps.SysfsRoot}/class/net/lo")) return;
            Thread.Sleep(10);
        }
        throw new TimeoutException("the device sandbox did not come up within 30 s");
    }

    private string? Comm()
    {
        try
        {
            return File.ReadAllText($"/proc/{_holder.Id}/comm").Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_holder.HasExited) _holder.Kill();
            _holder.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
        }
        _holder.Dispose();
    }
}
