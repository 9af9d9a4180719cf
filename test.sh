#!/usr/bin/env bash
# Runs every test: unit tests, network-namespace tests (root) and the end-to-end tests against a real libvirtd.
# As root it first sets up libvirt (scripts/libvirt-up.sh: installs what is missing, even on a fresh machine, and
# starts what is not running); without root the tests that need it skip with a message, except in CI
# (SHIM_TEST_CI=1), where they fail.
set -euo pipefail
cd "$(dirname "$0")"
if [ "$(id -u)" = 0 ]; then
  scripts/libvirt-up.sh
fi
dotnet build LibvirtShim.sln -nologo -v:q
./build.sh
# One test module at a time: libvirt opens /dev/tapIFINDEX, and a macvtap of the namespace tests with the same ifindex
# (ifindexes are per namespace, the node names are not) would hand a booted end-to-end guest the wrong device.
dotnet test --solution LibvirtShim.sln --no-build --max-parallel-test-modules 1 "$@"
