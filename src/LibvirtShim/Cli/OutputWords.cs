using LibvirtShim.Cli.Doctor;
using LibvirtShim.Naming;

namespace LibvirtShim.Cli;

/// <summary>
/// The words the admin verbs print, in text and JSON, for the enums they show; spelled out once, so that renaming
/// a C# member changes nothing a user or a script reads.
/// </summary>
internal static class OutputWords
{
    public static string Word(this Holding holding) => holding switch
    {
        Holding.Reserved => "reserved",
        Holding.Defined => "defined",
        Holding.Created => "created",
        Holding.Libvirt => "libvirt",
        Holding.Foreign => "foreign",
        _ => throw new ArgumentOutOfRangeException(nameof(holding), holding, null),
    };

    public static string Word(this CheckStatus status) => status switch
    {
        CheckStatus.Ok => "ok",
        CheckStatus.Warn => "warn",
        CheckStatus.Fail => "fail",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };
}
