#!/usr/bin/env bash
# Builds the Debian package from the published executable:
#
#   packaging/build-deb.sh BINARY OUTDIR      (build.sh runs it)
#
# writes OUTDIR/libvirt-shim_VERSION_amd64.deb (VERSION from src/LibvirtShim/LibvirtShim.csproj) holding
# /usr/sbin/libvirt-shim, /etc/libvirt/libvirt-shim.json (a conffile: the example settings), the listener's systemd unit
# /lib/systemd/system/libvirt-shim-watch.service and the docs; the hook symlink is not a file of the package: postinst
# makes it, where it overwrites nobody's hook (see debian/postinst), and starts the listener.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
binary=${1:?usage: build-deb.sh BINARY OUTDIR}
out=${2:?usage: build-deb.sh BINARY OUTDIR}
command -v dpkg-deb >/dev/null || { echo "build-deb.sh: dpkg-deb not found (apt-get install dpkg)" >&2; exit 1; }

version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$top/src/LibvirtShim/LibvirtShim.csproj" | head -n 1)
[ -n "$version" ] || { echo "build-deb.sh: no <Version> in LibvirtShim.csproj" >&2; exit 1; }
# The newest glibc symbol version the executable needs (its .dynstr holds them as text).
glibc=$(grep -ao 'GLIBC_2\.[0-9]*' "$binary" | sed 's/GLIBC_//' | sort -t . -k 2,2n | tail -n 1)
glibc=${glibc:-2.34}

stage=$(mktemp -d "${TMPDIR:-/tmp}/libvirt-shim-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
install -d -m 0755 "$stage/DEBIAN" "$stage/usr/sbin" "$stage/etc/libvirt" "$stage/usr/share/doc/libvirt-shim" "$stage/lib/systemd/system"
install -m 0755 "$binary" "$stage/usr/sbin/libvirt-shim"
install -m 0644 "$top/hooks/libvirt-shim.json" "$stage/etc/libvirt/libvirt-shim.json"
install -m 0644 "$here/debian/copyright" "$stage/usr/share/doc/libvirt-shim/copyright"
install -m 0644 "$top/README.md" "$stage/usr/share/doc/libvirt-shim/README.md"
install -m 0644 "$top/docs/listener.md" "$stage/usr/share/doc/libvirt-shim/listener.md"
# shellcheck source=hooks/hooklib.sh
(. "$top/hooks/hooklib.sh"; shim_watch_unit /usr/sbin/libvirt-shim) > "$stage/lib/systemd/system/libvirt-shim-watch.service"
chmod 0644 "$stage/lib/systemd/system/libvirt-shim-watch.service"

# Maintainer scripts: hooks/hooklib.sh goes in where a script says #SHIMLIB#.
for script in preinst postinst prerm postrm; do
  awk -v lib="$top/hooks/hooklib.sh" '$0 == "#SHIMLIB#" { while ((getline line < lib) > 0) print line; next } { print }' \
    "$here/debian/$script" > "$stage/DEBIAN/$script"
  chmod 0755 "$stage/DEBIAN/$script"
  sh -n "$stage/DEBIAN/$script"
done
echo /etc/libvirt/libvirt-shim.json > "$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" -e "s/@GLIBC@/$glibc/" "$here/debian/control.in" > "$stage/DEBIAN/control"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/libvirt-shim_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb.new" >/dev/null
mv -f "$deb.new" "$deb"
echo "built $deb ($(du -h "$deb" | cut -f1))"
