using LibvirtShim.EndToEnd.Infrastructure;
using Xunit;

// One libvirtd, one kernel, one state directory: every scenario is in the one "libvirt" collection (its tests run one
// at a time), and xunit.runner.json turns off parallel collections as well.
[assembly: TestClassOrderer(typeof(ByNameClassOrderer))]
[assembly: TestMethodOrderer(typeof(ByNameMethodOrderer))]
