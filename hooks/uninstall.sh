#!/usr/bin/env bash
# Removes exactly what hooks/install.sh added (its list in $ROOT/usr/local/lib/libvirt-shim/installed).
#   hooks/uninstall.sh [--root DIR] [--no-reload]
# The state in /run/libvirt/shim and the log are left; links of running guests are left (stop the guests first).
set -euo pipefail
root="" reload=1
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2:?--root needs a directory}; shift ;;
    --no-reload) reload=0 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$root" ] && { root=$(cd "$root" && pwd); reload=0; }
libdir="$root/usr/local/lib/libvirt-shim"
manifest="$libdir/installed"
[ -f "$manifest" ] || { echo "uninstall.sh: nothing installed here ($manifest missing)"; exit 0; }
# Files first, then the directories install created, deepest first, and only when empty.
grep -v '^dir:' "$manifest" | while IFS= read -r path; do
  if [ -e "$path" ] || [ -L "$path" ]; then rm -f "$path" && echo "removed $path"; fi
done
dirs=$(grep '^dir:' "$manifest" | cut -d: -f2- | sort -r)
rm -f "$manifest"
for d in $dirs; do rmdir "$d" 2>/dev/null && echo "removed $d" || true; done
if [ "$reload" = 1 ]; then
  pid=$(cat /run/libvirtd.pid 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = libvirtd ]; then
    kill -HUP "$pid" && echo "sent SIGHUP to libvirtd (pid $pid)"
  fi
fi
