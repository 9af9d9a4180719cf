#!/usr/bin/env bash
# Runs every test: unit tests, network-namespace tests (root) and the end-to-end tests against a real libvirt, twice:
# against this host's own daemon (Debian 12: libvirt 9.0, QEMU 7.2) and against libvirt 11.3 / QEMU 10.0 of Debian 13
# (scripts/libvirt-next.sh; its tree is built once, 1.5 to 6 minutes, and reused); and the soak run
# (tests/LibvirtShim.Soak: SOAK_STEPS steps, 200 by default, against both daemons at once; SOAK_SEED replays a seed).
# As root it first sets up libvirt (scripts/libvirt-up.sh: installs what is missing, even on a fresh machine, and
# starts what is not running); without root the tests that need it skip with a message, except in CI
# (SHIM_TEST_CI=1), where they fail.
set -euo pipefail
cd "$(dirname "$0")"
if [ "$(id -u)" = 0 ]; then
  scripts/libvirt-up.sh
  scripts/libvirt-next.sh build
fi
dotnet build LibvirtShim.sln -nologo -v:q
./build.sh
rc=0
# One test module at a time: libvirt opens /dev/tapIFINDEX, and a macvtap of the namespace tests with the same ifindex
# (ifindexes are per namespace, the node names are not) would hand a booted end-to-end guest the wrong device.
dotnet test --solution LibvirtShim.sln --no-build --max-parallel-test-modules 1 "$@" || rc=$?
if [ "$(id -u)" = 0 ]; then
  echo "test.sh: the end-to-end tests again, against libvirt-next (SHIM_E2E_DAEMON=next)"
  SHIM_E2E_DAEMON=next dotnet test --project tests/LibvirtShim.EndToEnd --no-build "$@" || rc=$?
  grep -h '^daemon under test' artifacts/e2e-timings.txt artifacts/e2e-timings-next.txt 2>/dev/null | sed 's/^/test.sh: end-to-end /' || true
  soak=""
  for log in artifacts/soak-*.log; do
    if [ -e "$log" ] && { [ -z "$soak" ] || [ "$log" -nt "$soak" ]; }; then soak=$log; fi
  done
  if [ -n "$soak" ]; then grep -h '] seed [0-9]*: ' "$soak" | sed "s|^\[ *[0-9.]*s\] |test.sh: soak ($soak): |" || true; fi
fi
exit $rc
