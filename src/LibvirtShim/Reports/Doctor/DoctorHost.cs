using LibvirtShim.Configuration;
using LibvirtShim.Netlink;

namespace LibvirtShim.Reports.Doctor;

/// <summary>
/// Where the doctor looks: /proc and / normally; a fake tree in tests. <see cref="SettingsFile"/> is only named in
/// messages. <see cref="Boot"/>: when the machine booted, from the clocks (null: /proc/stat's btime, to the second).
/// </summary>
internal sealed record DoctorHost(
    string Proc, string Root, Func<LinkTable> OpenLinks, uint EffectiveUser, Func<ShimSettings> LoadSettings, string SettingsFile,
    TimeWindow? Boot = null)
{
    /// <summary>The netfilter socket, for the guards' check (only when guards are in use).</summary>
    public Func<Netfilter.GuardTables> OpenGuards { get; init; } = Netfilter.GuardTables.Open;

    public static DoctorHost ForSystem(IReadOnlyList<string> settingOverrides) =>
        new("/proc", "/", LinkTable.Open, Interop.Files.EffectiveUserId(), () => SettingsLoader.Load(settingOverrides),
            SettingsLoader.ChosenFile, TimeWindow.BootFromClocks());

    public string Under(string path) => Root == "/" ? path : Root.TrimEnd('/') + path;
}
