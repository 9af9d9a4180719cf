namespace LibvirtShim.Net;

/// <summary>The kernel's MACVLAN_MODE_* values, as IFLA_MACVLAN_MODE carries them.</summary>
internal enum MacvtapMode : uint
{
    Private = 1,
    Vepa = 2,
    Bridge = 4,
    Passthru = 8,
    Source = 16,
}

internal static class MacvtapModes
{
    public static bool TryParse(string? text, out MacvtapMode mode)
    {
        switch (text)
        {
            case null or "" or "bridge": mode = MacvtapMode.Bridge; return true;
            case "vepa": mode = MacvtapMode.Vepa; return true;
            case "private": mode = MacvtapMode.Private; return true;
            case "passthrough" or "passthru": mode = MacvtapMode.Passthru; return true;
            case "source": mode = MacvtapMode.Source; return true;
            default: mode = default; return false;
        }
    }

    public static string Name(this MacvtapMode mode) => mode switch
    {
        MacvtapMode.Bridge => "bridge",
        MacvtapMode.Vepa => "vepa",
        MacvtapMode.Private => "private",
        MacvtapMode.Passthru => "passthru",
        MacvtapMode.Source => "source",
        _ => $"mode{(uint)mode}",
    };
}
