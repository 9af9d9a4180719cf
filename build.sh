#!/usr/bin/env bash
# Publishes the NativeAOT hook to artifacts/libvirt-shim (one self-contained file).
set -euo pipefail
cd "$(dirname "$0")"
out=artifacts/publish
dotnet publish src/LibvirtShim/LibvirtShim.csproj -c Release -r linux-x64 -o "$out" -nologo -v:q \
  -p:TreatWarningsAsErrors=true "$@"
mkdir -p artifacts
install -m 0755 "$out/libvirt-shim" artifacts/libvirt-shim
echo "built artifacts/libvirt-shim ($(du -h artifacts/libvirt-shim | cut -f1))"
