using LibvirtShim.Hook;
using LibvirtShim.Messages;

namespace LibvirtShim.Cli;

/// <summary>A hook call to replay and the file holding its stdin.</summary>
internal sealed record ReplayStep(HookCall Call, string XmlPath);

/// <summary>
/// Reads a replay: a text file of "DOMAIN OP SUBOP EXTRA XMLFILE" lines (XMLFILE relative to the file, '#' starts a
/// comment), or a directory recorded from libvirt, holding NN-*.argv (the command line) and NN-*.xml (stdin) pairs.
/// </summary>
internal static class ReplayScript
{
    public static List<ReplayStep> Load(string path)
    {
        try
        {
            return Directory.Exists(path) ? FromRecording(path) : FromFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ShimFailure.OfFile(e);
        }
    }

    private static List<ReplayStep> FromFile(string path)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var steps = new List<ReplayStep>();
        int number = 0;
        foreach (string raw in File.ReadLines(path))
        {
            number++;
            string line = raw.Split('#')[0].Trim();
            if (line.Length == 0) continue;
            string[] words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (words.Length != 5)
                throw ShimFailure.WithoutDomain($"{path}:{number}: expected DOMAIN OP SUBOP EXTRA XMLFILE, found {words.Length} words");
            steps.Add(new ReplayStep(new HookCall(words[0], words[1], words[2], words[3]), Path.Combine(directory, words[4])));
        }
        return steps;
    }

    private static List<ReplayStep> FromRecording(string directory)
    {
        var steps = new List<ReplayStep>();
        foreach (string argvPath in Directory.GetFiles(directory, "*.argv").Order(StringComparer.Ordinal))
        {
            string[] argv = File.ReadAllText(argvPath).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (HookCall.Parse(argv.Skip(1).ToList()) is not { } call)
                throw ShimFailure.WithoutDomain($"{argvPath}: not a hook command line");
            steps.Add(new ReplayStep(call, Path.ChangeExtension(argvPath, ".xml")));
        }
        return steps;
    }
}
