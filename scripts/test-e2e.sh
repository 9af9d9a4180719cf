#!/usr/bin/env bash
# Runs the end-to-end tests (tests/LibvirtShim.EndToEnd) against a real libvirtd, as CI does:
#   scripts/libvirt-up.sh (installs and starts libvirt if needed), ./build.sh (the hook under test),
#   then dotnet test with SHIM_TEST_CI=1, so a missing prerequisite fails instead of skipping.
#
#   sudo scripts/test-e2e.sh [dotnet test options, e.g. --filter-class '*S6LiveMigration' --output detailed]
#
# Environment: E2E_NO_BUILD=1 skips ./build.sh (artifacts/libvirt-shim must exist).
# Per-scenario timings end up in artifacts/e2e-timings.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "test-e2e: must run as root (links, libvirtd)" >&2; exit 1; }
scripts/libvirt-up.sh
[[ ${E2E_NO_BUILD:-0} == 1 ]] || ./build.sh
start=$(date +%s)
rc=0
SHIM_TEST_CI=1 dotnet test --project tests/LibvirtShim.EndToEnd "$@" || rc=$?
echo "test-e2e: dotnet test took $(( $(date +%s) - start ))s (exit $rc); timings: artifacts/e2e-timings.txt"
exit $rc
