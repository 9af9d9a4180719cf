namespace LibvirtShim.Lifecycle;

/// <summary>A failure the user meets: a one-line message naming the domain, the device and the cause.</summary>
internal sealed class ShimException(string message) : Exception(message);
