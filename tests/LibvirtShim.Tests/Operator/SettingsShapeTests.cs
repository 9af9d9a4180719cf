using System.Reflection;
using LibvirtShim.Configuration;
using LibvirtShim.Messages;
using LibvirtShim.Tests.TestSupport;
using Xunit;

namespace LibvirtShim.Tests.Operator;

/// <summary>
/// Every setting's JSON shape is checked: the configuration tree flattens JSON, and a value of the wrong type (a string
/// where a list belongs) was silently skipped, leaving the default ("AllowedLowerDevices": "eth9" meant any device).
/// </summary>
public class SettingsShapeTests
{
    public static TheoryData<string, string> WrongShapes => new()
    {
        { "\"AllowedLowerDevices\": \"eth9\"",
            "setting AllowedLowerDevices='eth9' in {file} must be a list ([\"eth0\", \"eth1\"]), not a single value" },
        { "\"AllowedLowerDevices\": 7", "setting AllowedLowerDevices='7' in {file} must be a list" },
        { "\"AllowedLowerDevices\": true", "setting AllowedLowerDevices='True' in {file} must be a list" },
        { "\"AllowedLowerDevices\": {\"a\": \"eth0\"}",
            "setting AllowedLowerDevices in {file} must be a list ([\"eth0\", \"eth1\"]), not an object" },
        { "\"AllowedLowerDevices\": [[\"eth0\"]]",
            "setting AllowedLowerDevices in {file} must be a list ([\"eth0\", \"eth1\"]) of device names: its entry 0 is a list or object" },
        { "\"AllowedLowerDevices\": [\"eth0\", null]",
            "setting AllowedLowerDevices in {file} must be a list ([\"eth0\", \"eth1\"]) of device names: its entry 1 is null" },
        { "\"Uplinks\": \"eno1\"", "setting Uplinks='eno1' in {file} must be an object ({\"name\": \"eth0\"}), not a single value" },
        { "\"Uplinks\": {\"eno1\": {\"dev\": \"eth0\"}}",
            "setting Uplinks in {file} must be an object ({\"name\": \"eth0\"}) of device names: its entry eno1 is a list or object" },
        { "\"Networks\": \"physnet1\"", "setting Networks='physnet1' in {file} must be an object" },
        { "\"Networks\": [\"eth0\"]", "setting Networks in {file} must be an object ({\"name\": \"eth0\"}), not a list" },
        { "\"StateDir\": [\"/run/x\"]", "setting StateDir in {file} must be a single value, not a list or object" },
        { "\"StateDir\": null", "setting StateDir in {file} must be a value, not null" },
        { "\"Instance\": [\"a\"]", "setting Instance in {file} must be a single value, not a list or object" },
        { "\"LogLevel\": {\"x\": 1}", "setting LogLevel in {file} must be a single value, not a list or object" },
        { "\"Capacity\": \"many\"", "setting Capacity='many' in {file} must be a whole number" },
        { "\"Capacity\": 1.5", "setting Capacity='1.5' in {file} must be a whole number" },
        { "\"Capacity\": [8192]", "setting Capacity in {file} must be a single value, not a list or object" },
        { "\"LockTimeoutSeconds\": true", "setting LockTimeoutSeconds='True' in {file} must be a whole number" },
        { "\"Syslog\": \"yes\"", "setting Syslog='yes' in {file} must be true or false" },
        { "\"Syslog\": 1", "setting Syslog='1' in {file} must be true or false" },
        { "\"Syslog\": [true]", "setting Syslog in {file} must be a single value, not a list or object" },
        { "\"AllowedLowerDevice\": [\"eth0\"]", "unknown setting 'AllowedLowerDevice' in {file}; the settings are StateDir, LibvirtRunDir" },
        { "\"AllowedLowerDevices\": {\"0\": \"eth0\", \"1\": \"eth1\"}",
            "setting AllowedLowerDevices in {file} must be a list ([\"eth0\", \"eth1\"]), not an object" },
        { "\"AllowedLowerDevices\": {}", "setting AllowedLowerDevices in {file} must be a list ([\"eth0\", \"eth1\"]), not an object" },
        { "\"Uplinks\": []", "setting Uplinks in {file} must be an object ({\"name\": \"eth0\"}), not a list" },
        { "\"Networks\": {\"tenant\": {\"a\": \"eth0\"}}",
            "setting Networks in {file} must be an object ({\"name\": \"eth0\"}) of device names: its entry tenant is a list or object" },
        { "\"Networks\": {\"a\": null}",
            "setting Networks in {file} must be an object ({\"name\": \"eth0\"}) of device names: its entry a is null" },
        { "\"Config\": \"/etc/other.json\"",
            "setting Config='/etc/other.json' in {file} cannot be given there: only the environment variable LIBVIRT_SHIM_CONFIG names the" },
        { "\"StateDir\": \"/a\", \"statedir\": \"/b\"", "setting StateDir is given twice in {file}" },
    };

    [Theory]
    [MemberData(nameof(WrongShapes))]
    public void ASettingOfTheWrongShapeFailsNamingTheSettingAndTheFile(string json, string message)
    {
        using var t = new TempTree();
        string file = t.Write("libvirt-shim.json", "{ " + json + " }");
        var e = Assert.Throws<ShimFailure>(() => SettingsLoader.Load(file, []));
        Assert.StartsWith(message.Replace("{file}", file), e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AWrongShapeFromAVariableOrAnOverrideNamesWhereItCameFrom()
    {
        using var t = new TempTree();
        string file = t.Write("libvirt-shim.json", "{}");
        var e = Assert.Throws<ShimFailure>(() => SettingsLoader.Load(file, ["--AllowedLowerDevices=eth9"]));
        Assert.Equal("setting AllowedLowerDevices='eth9' in the override --AllowedLowerDevices must be a list ([\"eth0\", \"eth1\"]), " +
            "not a single value", e.Message);
        e = Assert.Throws<ShimFailure>(() => SettingsLoader.Load(file, ["--AllowedLowerDevices:x=eth0"]));
        Assert.StartsWith("setting AllowedLowerDevices in the override --AllowedLowerDevices must be a list ([\"eth0\", \"eth1\"]), not an object",
            e.Message);
        e = Assert.Throws<ShimFailure>(() => SettingsLoader.Load(file, ["--Config=/etc/other.json"]));
        Assert.StartsWith("setting Config='/etc/other.json' in the override --Config cannot be given there", e.Message);
    }

    /// <summary>
    /// A map's keys are names, whatever they look like: digits (which the configuration tree takes for list indexes), a ':'
    /// (its key separator, which a logical network's name may hold), letters differing only in case (device names do).
    /// </summary>
    [Fact]
    public void AMapKeepsEveryKeyAsWritten()
    {
        using var t = new TempTree();
        string file = t.Write("libvirt-shim.json", """
            { "Uplinks": { "0": "eth0", "10": "eth1", "eno1": "eth2", "ENO1": "eth3" },
              "Networks": { "tenant:a": "eth0", "1": "eth1", "phys": "eth2" } }
            """);

        ShimSettings s = SettingsLoader.Load(file, ["--Networks:tenant:b=eth3", "--Networks:phys=eth4"]);

        Assert.Equal(["0=eth0", "10=eth1", "ENO1=eth3", "eno1=eth2"], s.Uplinks.Select(e => $"{e.Key}={e.Value}").Order(StringComparer.Ordinal));
        Assert.Equal(["1=eth1", "phys=eth4", "tenant:a=eth0", "tenant:b=eth3"],
            s.Networks.Select(e => $"{e.Key}={e.Value}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public void EveryShapeThatIsRightIsAccepted()
    {
        using var t = new TempTree();
        string file = t.Write("libvirt-shim.json", """
            { "AllowedLowerDevices": ["eth0", "eth1"], "Uplinks": { "eno1": "eth0" }, "Networks": {}, "Capacity": 100,
              "LockTimeoutSeconds": "10", "Syslog": false, "LogLevel": "warning", "StateDir": "/run/libvirt/shim" }
            """);
        ShimSettings s = SettingsLoader.Load(file, ["--AllowedLowerDevices:2=eth2", "--Networks:physnet1=eth1"]);
        Assert.Equal(["eth0", "eth1", "eth2"], s.AllowedLowerDevices);
        Assert.Equal("eth0", s.Uplinks["eno1"]);
        Assert.Equal("eth1", s.Networks["physnet1"]);
        Assert.Equal((100, 10, false), (s.Capacity, s.LockTimeoutSeconds, s.Syslog));

        ShimSettings example = SettingsLoader.Load(Path.Combine(SampleFiles.RepositoryRoot, "hooks/libvirt-shim.json"), []);
        Assert.Empty(example.AllowedLowerDevices);
        Assert.Empty(example.Uplinks);
    }

    /// <summary>Every setting has a declared shape, and the declared shape is the property's type.</summary>
    [Fact]
    public void EverySettingHasItsShapeDeclared()
    {
        foreach (PropertyInfo p in typeof(ShimSettings).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            Assert.True(SettingShapes.Declared.TryGetValue(p.Name, out SettingShape shape), p.Name);
            SettingShape expected = p.PropertyType switch
            {
                var x when x == typeof(int) || x == typeof(long) => SettingShape.Integer,
                var x when x == typeof(bool) => SettingShape.Boolean,
                var x when x == typeof(string) => SettingShape.Text,
                var x when x.IsArray => SettingShape.List,
                _ => SettingShape.Map,
            };
            Assert.True(expected == shape, $"{p.Name}: declared {shape}, is {expected}");
        }
        Assert.Equal(typeof(ShimSettings).GetProperties(BindingFlags.Public | BindingFlags.Instance).Length, SettingShapes.Declared.Count);
    }

    [Theory]
    [InlineData("99")]
    [InlineData("5")]
    [InlineData("-1")]
    [InlineData("Debug,Error")]
    [InlineData("Information ")]
    [InlineData("")]
    public void LogLevelTakesOnlyTheNamedLevels(string level)
    {
        using var t = new TempTree();
        string file = t.Write("libvirt-shim.json", $"{{ \"LogLevel\": \"{level}\" }}");
        var e = Assert.Throws<ShimFailure>(() => SettingsLoader.Load(file, []));
        Assert.Equal($"setting LogLevel='{level}' must be Verbose, Debug, Information, Warning, Error or Fatal", e.Message);
    }

    /// <summary>The doctor reads the settings as the hook does: a wrong shape fails its settings check.</summary>
    [Fact]
    public void DoctorCallsAWrongShapeInvalid()
    {
        using var t = new TempTree();
        var env = new Dictionary<string, string> { ["LIBVIRT_SHIM_CONFIG"] = t.Write("libvirt-shim.json", "{ \"AllowedLowerDevices\": \"eth9\" }") };
        ProcessResult r = Run.Shim(["doctor", "--", $"--StateDir={t.Path("state")}", $"--LogFile={t.Path("shim.log")}"], env: env);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("FAIL  settings:", r.Stdout);
        Assert.Contains("setting AllowedLowerDevices='eth9'", r.Stdout);
    }

    /// <summary>A FIFO (or device, or directory) as the settings file fails at once with one line; it never waits for a writer.</summary>
    [Theory]
    [InlineData("fifo")]
    [InlineData("device")]
    [InlineData("directory")]
    public void ASettingsFileThatIsNotARegularFileFailsAtOnce(string kind)
    {
        using var t = new TempTree();
        string file = kind switch
        {
            "fifo" => SpecialFiles.Fifo(t.Path("libvirt-shim.json")),
            "device" => "/dev/zero",
            _ => t.Path("dir"),
        };
        if (kind == "directory") Directory.CreateDirectory(file);
        var e = Assert.Throws<ShimFailure>(() =>
            Bounded.Run(() => SettingsLoader.Load(file, []), TimeSpan.FromSeconds(20), "loading the settings"));
        string what = kind switch { "fifo" => "a FIFO", "device" => "a character device", _ => "a directory" };
        Assert.Equal($"settings file {file}: {file} is {what}, not a regular file; refusing to use it", e.Message);
    }
}
