using LibvirtShim.Domain;
using LibvirtShim.Lifecycle;
using LibvirtShim.Net;
using LibvirtShim.Session;

namespace LibvirtShim.Cli;

/// <summary><c>adopt</c>: reads a domain XML, prints it with its direct NICs handed to the hook.</summary>
internal static class AdoptCommand
{
    public static int Run(string file, string? network, string? macs, IReadOnlyList<string> settingOverrides, Stream stdin, TextWriter output)
    {
        var options = new AdoptOptions(ParseMacs(macs), network);
        byte[] xml = DomainXml.ReadInput(file, stdin);
        using ShimContext context = CliRun.OpenContext(settingOverrides, "adopt");
        if (network is not null && !context.Settings.Networks.ContainsKey(network))
            context.Log.Warning("adopt: network {Network} is not in this host's Networks setting", network);
        using ShimSession session = ShimSession.Open(context);
        output.Write(AdoptDomain.Run(session, context.Settings, context.Links, context.Now, DomainXml.Parse(xml), options));
        return 0;
    }

    private static HashSet<MacAddress>? ParseMacs(string? macs)
    {
        if (string.IsNullOrWhiteSpace(macs)) return null;
        var set = new HashSet<MacAddress>();
        foreach (string text in macs.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            set.Add(MacAddress.TryParse(text, out MacAddress mac) ? mac : throw CliRun.Usage("adopt", $"--mac '{text}' is not a MAC address"));
        return set;
    }
}
