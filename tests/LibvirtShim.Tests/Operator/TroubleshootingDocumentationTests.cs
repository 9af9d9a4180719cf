using System.Text;
using System.Text.RegularExpressions;
using LibvirtShim.Reports;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>
/// docs/troubleshooting.md lists every message the program can print, with what it means and what to do: each message
/// written where a failure or a doctor finding is made is found there, every line the hostile-input corpus expects
/// matches one of its patterns, and every disagreement <c>status</c> words is there.
/// </summary>
public sealed class TroubleshootingDocumentationTests
{
    private static readonly string Doc = File.ReadAllText(Path.Combine(SampleFiles.RepositoryRoot, "docs/troubleshooting.md"));

    /// <summary>Where a message for the user is written: a failure, a doctor finding, a problem handed to one.</summary>
    private static readonly Regex MessageSite = new(
        @"(new ShimFailure\(|ShimFailure\.WithoutDomain\(|\bInvalid\(|\bRefused\(|\bFail\(|\bWarn\(|\bproblem = |\bUsage\()", RegexOptions.Compiled);

    /// <summary>The words that stand for what varies in the document's messages.</summary>
    private static readonly Regex Placeholder = new(
        @"\.\.\.|\b(DOMAIN|MAC|DEV|LOWER|OTHER|NET|N|M|K|P|V|X|UUID|FILE|DIR|PATH|WHAT|VALUE|NAME|TABLE|URI|TYPE|OPERATION|DAEMON|PID|LOGFILE|SOCKET)\b",
        RegexOptions.Compiled);

    public static TheoryData<string, string> MessagesInTheCode()
    {
        var data = new TheoryData<string, string>();
        string src = Path.Combine(SampleFiles.RepositoryRoot, "src/LibvirtShim");
        foreach (string file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            if (file.Contains("/obj/", StringComparison.Ordinal)) continue;
            string text = File.ReadAllText(file);
            foreach (Match site in MessageSite.Matches(text))
            {
                int end = site.Value.EndsWith('(') ? CallEnd(text, site.Index + site.Length) : text.IndexOf(';', site.Index);
                foreach (string fragment in Messages(text, site.Index + site.Length, end))
                    data.Add(Path.GetRelativePath(src, file), fragment);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(MessagesInTheCode))]
    public void EveryMessageTheCodeWritesIsDocumented(string file, string fragment) =>
        Assert.True(Doc.Contains(fragment, StringComparison.Ordinal), $"{file}: docs/troubleshooting.md does not have \"{fragment}\"");

    [Fact]
    public void TheScanFindsTheMessagesItShould()
    {
        string[] fragments = MessagesInTheCode().Select(row => row.Data.Item2).ToArray();
        Assert.Contains("cannot create macvtap on", fragments);
        Assert.Contains("must be between 1 and 3600", fragments);
        Assert.Contains("is handed to libvirt-shim but is not <interface type='ethernet'> with <target dev='NAME' managed='no'/>", fragments);
        Assert.True(fragments.Length > 80, $"only {fragments.Length} messages found");
    }

    [Fact]
    public void EveryLineTheCorpusExpectsMatchesADocumentedMessage()
    {
        Regex[] patterns = DocumentedMessages().Where(m => Placeholder.Replace(m, "").Count(char.IsLetter) >= 8).Select(ToPattern).ToArray();
        Assert.DoesNotContain(patterns, p => p.IsMatch("libvirt-shim: domain 'guest': NIC 52:54:00:c0:de:01 (mvtap1): something nobody wrote"));
        string[] lines = File.ReadAllLines(Path.Combine(SampleFiles.RepositoryRoot, "tests/LibvirtShim.Tests/Corpus/cases.txt"))
            .Where(l => !l.StartsWith('#') && l.Length > 0)
            .Select(l => l.Split(" | ", 5) is [_, _, _, _, { } stderr] ? stderr.Replace("{*}", "X", StringComparison.Ordinal) : "")
            .Where(l => l.Length > 0).Distinct().ToArray();

        Assert.NotEmpty(lines);
        foreach (string line in lines)
            Assert.True(patterns.Any(p => p.IsMatch(line)), $"no message of docs/troubleshooting.md matches: {line}");
    }

    [Fact]
    public void EveryDisagreementStatusReportsIsDocumentedWithItsKind()
    {
        foreach (AuditProblem problem in Enum.GetValues<AuditProblem>())
        {
            ProblemWords words = problem.Words();
            Assert.Contains($"| `{words.Text}` | `{words.Kind}` |", Doc);
        }
        Assert.Contains($"| `{OutputVocabulary.OrphanGuardText}` |", Doc);
    }

    /// <summary>The code spans that open a row of the document's tables: the messages.</summary>
    private static IEnumerable<string> DocumentedMessages() =>
        Doc.Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal))
            .SelectMany(l => Regex.Matches(l.Split(" | ")[0], "`([^`]+)`").Select(m => m.Groups[1].Value));

    /// <summary>A documented message as a pattern that ends where the line ends; its capitals and "..." match anything.</summary>
    private static Regex ToPattern(string message)
    {
        var pattern = new StringBuilder();
        int at = 0;
        foreach (Match hole in Placeholder.Matches(message))
        {
            pattern.Append(Regex.Escape(message[at..hole.Index])).Append(".*");
            at = hole.Index + hole.Length;
        }
        pattern.Append(Regex.Escape(message[at..])).Append('$');
        return new Regex(pattern.ToString());
    }

    /// <summary>The strings among the arguments in [from, end), each by its longest fixed part when that is long enough to be words.</summary>
    private static IEnumerable<string> Messages(string text, int from, int end)
    {
        for (int i = from; i < end; i++)
        {
            if (text[i] is not ('"' or '$' or '@') || !StringStartsAt(text, i)) continue;
            string longest = "";
            foreach (string part in ReadString(text, ref i))
            {
                string trimmed = part.Trim(' ', ':', ';', ',', '\'', '(', ')');
                if (trimmed.Length > longest.Length) longest = trimmed;
            }
            if (longest.Length >= 12 && longest.Contains(' ', StringComparison.Ordinal)) yield return longest;
        }
    }

    private static bool StringStartsAt(string text, int i) =>
        text[i] == '"' || (i + 1 < text.Length && text[i + 1] == '"') || (i + 2 < text.Length && text[i + 2] == '"' && text[i + 1] is '$' or '@');

    /// <summary>
    /// The fixed parts of the C# string literal at <paramref name="i"/> (plain, verbatim or interpolated; an
    /// interpolation hole ends a part), leaving <paramref name="i"/> on its closing quote.
    /// </summary>
    private static List<string> ReadString(string text, ref int i)
    {
        bool interpolated = false, verbatim = false;
        for (; text[i] != '"'; i++)
        {
            interpolated |= text[i] == '$';
            verbatim |= text[i] == '@';
        }
        var parts = new List<string>();
        var current = new StringBuilder();
        for (i++; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '"' && verbatim && i + 1 < text.Length && text[i + 1] == '"') { current.Append('"'); i++; continue; }
            if (c == '"') break;
            if (c == '\\' && !verbatim) { current.Append(text[i + 1] == '"' ? "\"" : text.AsSpan(i, 2)); i++; continue; }
            if (interpolated && c is '{' or '}' && i + 1 < text.Length && text[i + 1] == c) { current.Append(c); i++; continue; }
            if (interpolated && c == '{')
            {
                parts.Add(current.ToString());
                current.Clear();
                i = HoleEnd(text, i + 1);
                continue;
            }
            current.Append(c);
        }
        parts.Add(current.ToString());
        return parts;
    }

    /// <summary>The index of the brace that closes an interpolation hole opened before <paramref name="i"/>.</summary>
    private static int HoleEnd(string text, int i)
    {
        for (int depth = 1; ; i++)
        {
            if (text[i] is '"' or '$' or '@' && StringStartsAt(text, i)) { ReadString(text, ref i); continue; }
            if (text[i] == '\'') { i = text.IndexOf('\'', i + (text[i + 1] == '\\' ? 3 : 2)); continue; }
            if (text[i] == '{') depth++;
            else if (text[i] == '}' && --depth == 0) return i;
        }
    }

    /// <summary>The index of the parenthesis that closes a call whose arguments start at <paramref name="i"/>.</summary>
    private static int CallEnd(string text, int i)
    {
        for (int depth = 1; i < text.Length; i++)
        {
            if (text[i] is '"' or '$' or '@' && StringStartsAt(text, i)) { ReadString(text, ref i); continue; }
            if (text[i] == '\'') { i = text.IndexOf('\'', i + (text[i + 1] == '\\' ? 3 : 2)); continue; }
            if (text[i] is '(' or '[' or '{') depth++;
            else if (text[i] is ')' or ']' or '}' && --depth == 0) return i;
            else if (text[i] == ';') return i;
        }
        return i;
    }
}
