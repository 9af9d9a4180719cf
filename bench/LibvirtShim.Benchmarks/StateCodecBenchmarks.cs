using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using LibvirtShim.Benchmarks.Support;
using LibvirtShim.State;

namespace LibvirtShim.Benchmarks;

/// <summary>
/// The state file at 0, 1000 and 10000 records (a busy host's mix, <see cref="StateFactory.Busy"/>). Load: the
/// product's StateStore.Load (lstat, open, read, checksum, decode) and the decode alone, beside reading the same bytes
/// (File.ReadAllBytes). Save: StateStore.Save (encode, write to state.new, fsync, rename) and the encode alone, beside
/// writing the same bytes the same way (write, fsync, rename). The file lives on tmpfs (/dev/shm) unless
/// BENCH_STATE_PARENT says otherwise, as /run/libvirt/shim does on a systemd host.
/// </summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
[CategoriesColumn]
public class StateCodecBenchmarks
{
    [Params(0, 1000, 10000)]
    public int Records { get; set; }

    private readonly NameScheme _scheme = new("mvtap", 8192);
    private NameState _state = null!;
    private byte[] _bytes = [];
    private string _work = "";
    private StateStore _store = null!;
    private string _rawPath = "", _rawTemporary = "";

    [GlobalSetup]
    public void Setup()
    {
        _state = StateFactory.Busy(_scheme, Records, firstManagedIndex: 500);
        _bytes = StateCodec.Encode(_state);
        _work = WorkDir.Create("shim-bench-codec-");
        _store = new StateStore(Path.Combine(_work, "state"), TimeSpan.FromSeconds(10));
        using (StateLease lease = _store.LockToChange()) lease.Save(_state);
        _rawPath = Path.Combine(_work, "raw");
        _rawTemporary = Path.Combine(_work, "raw.new");
        if (_store.Load(_scheme).State?.Count != Records) throw new InvalidOperationException("state did not round-trip");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_work.Length > 0) Directory.Delete(_work, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "read the file's bytes (File.ReadAllBytes)"), BenchmarkCategory("load")]
    public int ReadBytes() => File.ReadAllBytes(_store.StatePath).Length;

    [Benchmark(Description = "StateCodec.Decode (in memory)"), BenchmarkCategory("load")]
    public int Decode() => StateCodec.Decode(_bytes, _scheme).Count;

    [Benchmark(Description = "StateStore.Load (read + decode)"), BenchmarkCategory("load")]
    public int Load() => _store.Load(_scheme).State!.Count;

    [Benchmark(Baseline = true, Description = "write the same bytes (write, fsync, rename)"), BenchmarkCategory("save")]
    public void WriteBytes()
    {
        File.Delete(_rawTemporary);
        using (var stream = new FileStream(_rawTemporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            stream.Write(_bytes);
            stream.Flush(flushToDisk: true);
        }
        File.Move(_rawTemporary, _rawPath, overwrite: true);
    }

    [Benchmark(Description = "StateCodec.Encode (in memory)"), BenchmarkCategory("save")]
    public int Encode() => StateCodec.Encode(_state).Length;

    [Benchmark(Description = "StateStore.Save (encode + write)"), BenchmarkCategory("save")]
    public void Save() => _store.Save(_state);
}
