using ConsoleAppFramework;
using LibvirtShim.Messages;

namespace LibvirtShim.Cli;

/// <summary>
/// The admin verbs (ConsoleAppFramework), with what it leaves out: the program's own overview, "libvirt-shim" in
/// every usage line, the settings overrides after "--", an error (exit 2) for an unknown command or a missing
/// argument instead of a help text and exit 0.
/// Settings can be overridden after "--", e.g. <c>libvirt-shim status -- --StateDir=/tmp/s</c>.
/// </summary>
internal static class ShimCli
{
    public const int UsageError = 2;

    /// <summary>Every verb, with how many arguments it requires.</summary>
    internal static readonly (string Name, int RequiredArguments, string Summary)[] Verbs =
    [
        ("doctor", 0, "Check this host: kernel, libvirt, the hook, settings, lower devices, state (--json)."),
        ("status", 0, "Names held, per lower device, beside the kernel's links, and what disagrees (--json)."),
        ("explain", 1, "What 'prepare' would do for a domain XML on this host, without doing it."),
        ("adopt", 1, "Hand a definition's direct NICs to libvirt-shim; prints the XML for 'virsh define'."),
        ("attach-interface", 1, "Hot-plug a NIC owned by libvirt-shim into a guest (--source or --network; --live, --config)."),
        ("detach-interface", 1, "Unplug a NIC owned by libvirt-shim (--mac), delete its macvtap and free its name."),
        ("repair", 0, "Make again the links of running guests lost with their uplink, and plug their NICs in again."),
        ("seed", 0, "Rebuild the state from running guests, definitions and the kernel's links."),
        ("watch", 0, "The listener: keep each owned NIC's link up exactly while its guest's vCPUs run (a service)."),
        ("replay", 1, "Run recorded hook calls through the hook logic against the kernel."),
        ("hook", 2, "Run one hook call as libvirt does (the domain XML on stdin)."),
    ];

    public static int Run(string[] args)
    {
        string version = Version;
        ConsoleApp.Version = version;
        string verb = args.Length > 0 ? args[0] : "";
        if (args.Length == 0 || verb is "-h" or "--help" or "help")
        {
            Console.Out.Write(Overview(version));
            return 0;
        }
        if (verb == "--version")
        {
            Console.Out.WriteLine(version);
            return 0;
        }
        int index = Array.FindIndex(Verbs, v => v.Name == verb);
        if (index < 0)
        {
            string what = verb.StartsWith('-') ? "option" : "command";
            Console.Error.WriteLine($"libvirt-shim: unknown {what} '{Printable.Escape(verb)}'; " +
                $"the commands are {string.Join(", ", Verbs.Select(v => v.Name))} (see 'libvirt-shim --help')");
            return UsageError;
        }

        bool usageError = false;
        ConsoleApp.Log = text => Console.Out.WriteLine(DecorateHelp(text));
        ConsoleApp.LogError = text =>
        {
            usageError = true;
            Console.Error.WriteLine($"libvirt-shim {verb}: {Printable.Escape(text.TrimEnd().Replace('\n', ' '))}; see 'libvirt-shim {verb} --help'");
        };
        var app = ConsoleApp.Create();
        app.Add<ShimCommands>();

        int given = args.Skip(1).TakeWhile(a => a != "--").Count();
        if (given == 0 && Verbs[index].RequiredArguments > 0)
        {
            Console.Error.WriteLine($"libvirt-shim {verb}: missing argument{(Verbs[index].RequiredArguments > 1 ? "s" : "")}; its usage:");
            app.Run([verb, "--help"]);
            return UsageError;
        }
        Environment.ExitCode = 0;
        app.Run(args);
        return usageError ? UsageError : Environment.ExitCode;
    }

    public static string Version => typeof(ShimCli).Assembly.GetName().Version?.ToString(3) ?? "0";

    /// <summary>
    /// ConsoleAppFramework's help names no program and keeps a command's summary on one line: name the program, wrap
    /// the summary, put its example on a line of its own, and add how settings are overridden.
    /// </summary>
    internal static string DecorateHelp(string text)
    {
        if (!text.StartsWith("Usage: ", StringComparison.Ordinal)) return text;
        var output = new StringWriter();
        foreach (string line in text.TrimEnd('\n', '\r').Split('\n'))
        {
            if (line.StartsWith("Usage: ", StringComparison.Ordinal))
            {
                output.WriteLine("Usage: libvirt-shim " + line["Usage: ".Length..]);
                continue;
            }
            int example = line.IndexOf(" Example: ", StringComparison.Ordinal);
            string description = example >= 0 ? line[..example] : line;
            foreach (string wrapped in Wrap(description, 110)) output.WriteLine(wrapped);
            if (example >= 0)
            {
                output.WriteLine();
                output.WriteLine("Example:");
                output.WriteLine("  " + line[(example + " Example: ".Length)..]);
            }
        }
        output.WriteLine();
        output.Write(SettingsNote);
        return output.ToString();
    }

    private static IEnumerable<string> Wrap(string text, int width)
    {
        if (text.Length <= width || text.StartsWith(' ')) { yield return text; yield break; }
        var line = new System.Text.StringBuilder();
        foreach (string word in text.Split(' '))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                yield return line.ToString();
                line.Clear();
            }
            if (line.Length > 0) line.Append(' ');
            line.Append(word);
        }
        if (line.Length > 0) yield return line.ToString();
    }

    private const string SettingsNote =
        "Settings: /etc/libvirt/libvirt-shim.json (or $LIBVIRT_SHIM_CONFIG), then LIBVIRT_SHIM_<NAME> variables, then\n" +
        "overrides after '--', e.g. -- --StateDir=/tmp/state --LogLevel=Debug. 'libvirt-shim doctor' checks them.";

    internal static string Overview(string version)
    {
        var text = new StringWriter();
        text.WriteLine($"libvirt-shim {version}: libvirt's qemu hook for macvtap NICs. It creates the macvtap links of the NICs a");
        text.WriteLine("domain hands to it, names them from a shared bitmap, deletes them when the guest stops, and rewrites the");
        text.WriteLine("domain XML when a guest arrives by migration or restore on a host whose names and uplinks differ.");
        text.WriteLine();
        text.WriteLine("Usage: libvirt-shim COMMAND [ARGUMENTS] [OPTIONS] [-- SETTING OVERRIDES]");
        text.WriteLine();
        text.WriteLine("Commands:");
        foreach (var (name, _, summary) in Verbs) text.WriteLine($"  {name,-16} {summary}");
        text.WriteLine();
        text.WriteLine("Examples:");
        text.WriteLine("  sudo libvirt-shim doctor                                 is this host ready?");
        text.WriteLine("  virsh dumpxml web1 | libvirt-shim adopt - > web1.xml     hand web1's direct NICs to the hook");
        text.WriteLine("  libvirt-shim explain web1.xml                            what starting web1 would do here");
        text.WriteLine("  libvirt-shim status                                      who holds which name, and what disagrees");
        text.WriteLine();
        text.WriteLine("As libvirt's hook (installed as /etc/libvirt/hooks/qemu, or in hooks/qemu.d/) it is run as");
        text.WriteLine("'qemu DOMAIN OP SUBOP EXTRA' with the domain XML on stdin; 'libvirt-shim hook' does the same by hand.");
        text.WriteLine();
        text.WriteLine(SettingsNote);
        text.WriteLine();
        text.WriteLine("'libvirt-shim COMMAND --help' shows a command's arguments, options and an example.");
        text.WriteLine("Exit status: 0 done; 1 failed (one line on stderr says why and what to do); 2 usage error;");
        text.WriteLine("3 (status) state and kernel disagree.");
        return text.ToString();
    }
}
