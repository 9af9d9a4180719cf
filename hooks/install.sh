#!/usr/bin/env bash
# Installs libvirt-shim as libvirt's qemu hook.
#
#   hooks/install.sh [--qemu.d] [--root DIR] [--etc DIR] [--binary FILE] [--no-reload]
#
# - the executable goes to $ROOT/usr/local/sbin/libvirt-shim (admin verbs: libvirt-shim --help);
# - the hook is a symlink to it: $ETC/hooks/qemu, or with --qemu.d (libvirt 6.5+) $ETC/hooks/qemu.d/libvirt-shim.
#   An existing hooks/qemu that is not libvirt-shim is never overwritten: the hook then goes into qemu.d/;
# - $ETC/libvirt-shim.json, the settings, is written with the defaults unless it exists;
# - what was added is listed in $ROOT/usr/local/lib/libvirt-shim/installed, which hooks/uninstall.sh reads.
# libvirtd reads whether a hook exists when it starts or gets SIGHUP: a running libvirtd gets SIGHUP.
# --root DIR installs into a tree (tests; no signal). --etc DIR is libvirt's config directory (default $ROOT/etc/libvirt).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root="" etc="" binary="$here/../artifacts/libvirt-shim" qemud=0 reload=1
while [ $# -gt 0 ]; do
  case "$1" in
    --qemu.d) qemud=1 ;;
    --root) root=${2:?--root needs a directory}; shift ;;
    --etc) etc=${2:?--etc needs a directory}; shift ;;
    --binary) binary=${2:?--binary needs a file}; shift ;;
    --no-reload) reload=0 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$root" ] && { root=$(cd "$root" && pwd); reload=0; }
etc=${etc:-$root/etc/libvirt}
[ -x "$binary" ] || { echo "install.sh: $binary not found or not executable; run ./build.sh first" >&2; exit 1; }

sbin="$root/usr/local/sbin"
libdir="$root/usr/local/lib/libvirt-shim"
manifest="$libdir/installed"
exe="$sbin/libvirt-shim"
hooks="$etc/hooks"

is_ours() { [ "$(readlink "$1")" = "${exe#"$root"}" ] || grep -qa 'urn:libvirt-shim:macvtap:1' "$1" 2>/dev/null; }
added() { grep -qxF "$1" "$manifest" 2>/dev/null || echo "$1" >> "$manifest"; }
# Creates a directory and its missing parents, listing each one it created (parents first) for uninstall.
make_dir() {
  local missing=() d=$1
  while [ ! -d "$d" ]; do missing=("$d" "${missing[@]}"); d=$(dirname "$d"); done
  for d in "${missing[@]}"; do mkdir "$d"; [ -f "$manifest" ] && added "dir:$d" || pending+=("dir:$d"); done
}

pending=()
make_dir "$libdir"
touch "$manifest"
for p in "${pending[@]}"; do added "$p"; done
make_dir "$sbin"
make_dir "$hooks"
install -m 0755 "$binary" "$exe.new" && mv -f "$exe.new" "$exe"
added "$exe"
echo "installed $exe"

target="$hooks/qemu"
if [ "$qemud" = 1 ]; then
  target="$hooks/qemu.d/libvirt-shim"
elif [ -e "$target" ] || [ -L "$target" ]; then
  if ! is_ours "$target"; then
    target="$hooks/qemu.d/libvirt-shim"
    echo "note: $hooks/qemu exists and is not libvirt-shim; leaving it alone and installing into qemu.d/ (needs libvirt 6.5+)"
  fi
fi
make_dir "$(dirname "$target")"
ln -sfn "${exe#"$root"}" "$target"
added "$target"
echo "installed the hook $target -> ${exe#"$root"}"

settings="$etc/libvirt-shim.json"
if [ ! -e "$settings" ]; then
  install -m 0644 "$here/libvirt-shim.json" "$settings"
  added "$settings"
  echo "installed default settings $settings"
else
  echo "kept existing settings $settings"
fi

if [ "$reload" = 1 ]; then
  pid=$(cat /run/libvirtd.pid 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = libvirtd ]; then
    kill -HUP "$pid"
    echo "sent SIGHUP to libvirtd (pid $pid) so it notices the hook; if hook calls do not arrive, restart libvirtd"
  else
    echo "libvirtd is not running: it finds the hook when it starts"
  fi
else
  echo "libvirtd notices a new hook only when it starts or gets SIGHUP: restart it, or kill -HUP its pid"
fi
