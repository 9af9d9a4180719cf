#!/usr/bin/env bash
# Publishes the NativeAOT hook to artifacts/libvirt-shim (one self-contained file; the publish must show no trim or
# AOT warning: they are errors here) and packages it as artifacts/libvirt-shim_VERSION_amd64.deb
# (packaging/build-deb.sh). Extra arguments go to dotnet publish.
set -euo pipefail
cd "$(dirname "$0")"
out=artifacts/publish
dotnet publish src/LibvirtShim/LibvirtShim.csproj -c Release -r linux-x64 -o "$out" -nologo -v:q \
  -p:TreatWarningsAsErrors=true "$@"
mkdir -p artifacts
install -m 0755 "$out/libvirt-shim" artifacts/libvirt-shim.new
mv -f artifacts/libvirt-shim.new artifacts/libvirt-shim
echo "built artifacts/libvirt-shim ($(du -h artifacts/libvirt-shim | cut -f1))"
packaging/build-deb.sh artifacts/libvirt-shim artifacts
