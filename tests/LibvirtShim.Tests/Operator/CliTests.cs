using LibvirtShim.Cli;
using LibvirtShim.Messages;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>The command line as an administrator meets it: help with an example for every verb, errors that say what next.</summary>
public class CliTests
{
    public static TheoryData<string> Verbs() => [.. ShimCli.Verbs.Select(v => v.Name)];

    [Fact]
    public void TheOverviewNamesEveryCommandAndHowSettingsAreGiven()
    {
        foreach (string[] args in new[] { Array.Empty<string>(), ["--help"], ["-h"] })
        {
            ProcessResult r = Run.Shim(args);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("Usage: libvirt-shim COMMAND", r.Stdout);
            foreach (var (name, _, _) in ShimCli.Verbs) Assert.Contains($"\n  {name} ", r.Stdout);
            Assert.Contains("-- --StateDir=", r.Stdout);
            Assert.Contains("/etc/libvirt/hooks/qemu", r.Stdout);
        }
    }

    [Theory]
    [MemberData(nameof(Verbs))]
    public void EveryVerbHasHelpWithAnExample(string verb)
    {
        ProcessResult r = Run.Shim([verb, "--help"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith($"Usage: libvirt-shim {verb} ", r.Stdout);
        Assert.Contains("\nExample:\n  ", r.Stdout);
        Assert.Contains("libvirt-shim", r.Stdout[r.Stdout.IndexOf("Example:", StringComparison.Ordinal)..]);
        Assert.Contains("-- --StateDir=", r.Stdout);
    }

    [Fact]
    public void UsageErrorsExitWith2AndPointToTheHelp()
    {
        ProcessResult unknown = Run.Shim(["frobnicate"]);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("libvirt-shim: unknown command 'frobnicate'; the commands are doctor, status, explain", unknown.Stderr);

        ProcessResult missing = Run.Shim(["explain"]);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("libvirt-shim explain: missing argument", missing.Stderr);
        Assert.StartsWith("Usage: libvirt-shim explain", missing.Stdout);

        ProcessResult option = Run.Shim(["status", "--bogus"]);
        Assert.Equal(2, option.ExitCode);
        Assert.EndsWith("; see 'libvirt-shim status --help'\n", option.Stderr);
    }

    /// <summary>
    /// An option value that cannot be right is a usage error (exit 2), found before any setting, file, state or libvirt is
    /// touched, in one line with what to do after a ';', as every other failure of the admin verbs.
    /// </summary>
    [Theory]
    [InlineData("status --format xml", "libvirt-shim: --format 'xml' is not one of text, json, prometheus; see 'libvirt-shim status --help'")]
    [InlineData("attach-interface web1", "libvirt-shim: domain 'web1': give exactly one of --source LOWER-DEVICE or --network NAME; see ")]
    [InlineData("attach-interface web1 --source eth9 --network n1", "libvirt-shim: domain 'web1': give exactly one of --source ")]
    [InlineData("attach-interface web1 --source eth9 --mode bogus", "libvirt-shim: domain 'web1': --mode 'bogus' is not a macvtap mode ")]
    [InlineData("attach-interface web1 --source a/b", "libvirt-shim: domain 'web1': --source 'a/b' contains '/'")]
    [InlineData("attach-interface web1 --source eth9 --mtu 20", "libvirt-shim: domain 'web1': --mtu 20 is outside 68..65535; see ")]
    [InlineData("attach-interface web1 --source eth9 --mac zz", "libvirt-shim: domain 'web1': --mac 'zz' is not a unicast MAC address; see ")]
    [InlineData("attach-interface web1 --source eth9 --mac 01:00:5e:00:00:01", "libvirt-shim: domain 'web1': --mac '01:00:5e:00:00:01' is not a")]
    [InlineData("attach-interface web1 --source eth9 --mode source", "libvirt-shim: domain 'web1': --mode source needs --macaddrs MAC,...")]
    [InlineData("attach-interface web1 --source eth9 --macaddrs 52:54:00:00:00:01", "libvirt-shim: domain 'web1': --macaddrs is only for --mode")]
    [InlineData("detach-interface web1 --mac zz", "libvirt-shim: domain 'web1': --mac 'zz' is not a unicast MAC address; see ")]
    [InlineData("detach-interface web1 --mac 52:54:00:00:00:01 --wait -1", "libvirt-shim: domain 'web1': --wait -1 is not a number of seconds")]
    [InlineData("repair web1 --wait -1", "libvirt-shim: --wait -1 is not a number of seconds (0 or more); see 'libvirt-shim repair --help'")]
    [InlineData("adopt /nonexistent/web1.xml --mac zz", "libvirt-shim: --mac 'zz' is not a MAC address; see 'libvirt-shim adopt --help'")]
    [InlineData("attach-interface web1 --source eth9 --mtu abc", "libvirt-shim attach-interface: ")]
    public void AnInvalidOptionValueIsAUsageErrorThatSaysWhatToDo(string command, string start)
    {
        using var t = new TempTree();
        var env = new Dictionary<string, string> { ["LIBVIRT_SHIM_CONFIG"] = t.Write("libvirt-shim.json", "{\"StateDir\": \"relative\"}") };

        ProcessResult r = Run.Shim(command.Split(' '), env: env);

        string verb = command.Split(' ')[0];
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.StartsWith(start, r.Stderr);
        Assert.Single(r.Stderr.TrimEnd('\n').Split('\n'));
        Assert.EndsWith($"; see 'libvirt-shim {verb} --help'\n", r.Stderr);
    }

    [Fact]
    public void ASettingsErrorSaysWhereToFixIt()
    {
        using var t = new TempTree();
        string file = t.Write("libvirt-shim.json", "{}");
        ProcessResult r = Run.Shim(["status", "--", "--StateDir=relative/dir"],
            env: new Dictionary<string, string> { ["LIBVIRT_SHIM_CONFIG"] = file });
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"libvirt-shim: setting StateDir='relative/dir' must be an absolute path; fix it in {file} " +
                     "(or the LIBVIRT_SHIM_* variable or '-- --Name=value' override that sets it); " +
                         "'libvirt-shim doctor' checks every setting\n", r.Stderr);
    }

    [Fact]
    public void TheVersionIsTheProjects()
    {
        ProcessResult r = Run.Shim(["--version"]);
        Assert.Equal((0, ShimCli.Version + "\n"), (r.ExitCode, r.Stdout));
    }

    [Fact]
    public void HelpDecorationWrapsTheSummaryAndSetsTheExampleApart()
    {
        string help = ShimCli.DecorateHelp("Usage: seed [-h|--help] [--version]\n\n" + new string('w', 50) + " " + new string('x', 70)
            + " Example: libvirt-shim seed\n");
        Assert.Equal(
            "Usage: libvirt-shim seed [-h|--help] [--version]\n\n" + new string('w', 50) + "\n" + new string('x', 70)
                + "\n\nExample:\n  libvirt-shim seed\n\nSettings:",
            help[..help.IndexOf("Settings:", StringComparison.Ordinal)] + "Settings:");
    }

    [Fact]
    public void FailuresSayWhatToDoNext()
    {
        Assert.Equal("Access to the path '/run/libvirt/shim' is denied.; run it as root",
            ShimFailure.LineFor(ShimFailure.OfFile(new UnauthorizedAccessException("Access to the path '/run/libvirt/shim' is denied.")),
                advise: true));
        Assert.Equal("domain 'web1': NIC 52:54:00:aa:00:07 (mvtap7): name is held by domain 'db'",
            ShimFailure.LineFor(new ShimFailure("domain 'web1': NIC 52:54:00:aa:00:07 (mvtap7): name is held by domain 'db'"), "web1", advise: true));
        Assert.Equal("internal error (InvalidOperationException): surprise; this is a bug: please report it with this line and the log",
            ShimFailure.LineFor(new InvalidOperationException("surprise"), advise: true));
    }

    [Fact]
    public void AMissingFileIsNamed()
    {
        ProcessResult r = Run.Shim(["explain", "/nonexistent/web1.xml"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("/nonexistent/web1.xml", r.Stderr);
        Assert.Contains("check the path", r.Stderr);
    }
}
