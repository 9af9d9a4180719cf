namespace LibvirtShim.Messages;

/// <summary>
/// The one failure a user meets: a line naming the domain, the device and the cause, and what to do about it when
/// there is something to say. Whatever else escapes is a bug, and <see cref="LineFor"/> says so.
/// </summary>
internal sealed class ShimFailure : Exception
{
    private const string BugAdvice = "this is a bug: please report it with this line and the log";

    /// <summary>A failure whose message names the domain (and the NIC, where there is one) itself.</summary>
    public ShimFailure(string message, string? advice = null, Exception? cause = null)
        : this(message, advice, namesDomain: true, cause)
    {
    }

    private ShimFailure(string message, string? advice, bool namesDomain, Exception? cause, bool isUsage = false) : base(message, cause)
    {
        Advice = advice;
        NamesDomain = namesDomain;
        IsUsage = isUsage;
    }

    /// <summary>What to do about it; admin verbs print it after a ';', the hook leaves it to the README.</summary>
    public string? Advice { get; }

    /// <summary>False for a failure of the host (settings, state, the kernel) or of the input: a hook call names the domain before it.</summary>
    public bool NamesDomain { get; }

    /// <summary>A command given wrongly (an option value that cannot be right): the admin verbs exit 2 for it, as for a usage error.</summary>
    public bool IsUsage { get; }

    /// <summary>A command given wrongly, found before anything is read or changed; <paramref name="advice"/> says how to give it.</summary>
    public static ShimFailure OfUsage(string message, string advice) => new(message, advice, namesDomain: true, cause: null, isUsage: true);

    /// <summary>A failure that does not name the domain: the settings, the state, the kernel's socket, the domain XML itself.</summary>
    public static ShimFailure WithoutDomain(string message, string? advice = null, Exception? cause = null) =>
        new(message, advice, namesDomain: false, cause);

    /// <summary>A file that cannot be read or written, in the words of the call that failed.</summary>
    public static ShimFailure OfFile(Exception e) => WithoutDomain(e.Message, e switch
    {
        UnauthorizedAccessException or FileCallException { Errno: Errno.EPERM or Errno.EACCES } => "run it as root",
        FileNotFoundException or DirectoryNotFoundException or FileCallException { Errno: Errno.ENOENT } => "check the path",
        _ => null,
    }, e);

    /// <summary>Anything else that escaped: a bug, named by its type; the log has the stack.</summary>
    public static bool IsBug(Exception e) => e is not ShimFailure;

    /// <summary>
    /// The one line for any failure, without the "libvirt-shim: " before it, as stderr shows it: <see cref="TextFor"/>
    /// escaped, so that one failure stays one line in virsh.
    /// </summary>
    public static string LineFor(Exception e, string? domain = null, bool advise = false) => Printable.Escape(TextFor(e, domain, advise));

    /// <summary>
    /// The line's text, not yet escaped (for the log, which escapes what it writes). <paramref name="domain"/>: a hook
    /// call's domain, put before a failure that does not name it. <paramref name="advise"/>: the advice after a ';'.
    /// </summary>
    public static string TextFor(Exception e, string? domain = null, bool advise = false)
    {
        ShimFailure failure = e as ShimFailure ?? WithoutDomain($"internal error ({e.GetType().Name}): {e.Message}", BugAdvice, e);
        string line = domain is not null && !failure.NamesDomain ? $"domain '{domain}': {failure.Message}" : failure.Message;
        return advise && failure.Advice is { } advice ? $"{line}; {advice}" : line;
    }
}
