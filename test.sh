#!/usr/bin/env bash
# Runs every test: unit tests, network-namespace tests (root) and the end-to-end tests against a real libvirtd.
# As root on a fresh machine it first sets up libvirt (scripts/libvirt-up.sh); without root or libvirt the
# tests that need them skip with a message, except in CI (SHIM_TEST_CI=1), where they fail.
set -euo pipefail
cd "$(dirname "$0")"
if [ "$(id -u)" = 0 ] && { [ "${SHIM_TEST_CI:-}" = 1 ] || command -v virsh >/dev/null; }; then
  scripts/libvirt-up.sh
fi
dotnet build LibvirtShim.sln -nologo -v:q
./build.sh
# One test module at a time: libvirt opens /dev/tapIFINDEX, and a macvtap of the namespace tests with the same ifindex
# (ifindexes are per namespace, the node names are not) would hand a booted end-to-end guest the wrong device.
dotnet test --solution LibvirtShim.sln --no-build --max-parallel-test-modules 1 "$@"
