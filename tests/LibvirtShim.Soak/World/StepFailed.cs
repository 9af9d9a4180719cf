namespace LibvirtShim.Soak.World;

/// <summary>A step that failed where it should have succeeded: a violation; the model is then resynchronised from the world.</summary>
public sealed class StepFailed(string message) : Exception(message);
