#!/usr/bin/env bash
# Removes exactly what hooks/install.sh added (its list in $ROOT/usr/local/lib/libvirt-shim/installed):
#
#   hooks/uninstall.sh [--root DIR] [--no-reload | --reload]
#
# - a hook it installed is removed only while it is still libvirt-shim (someone's hook put there since is left);
# - the settings file only when unchanged since install (a changed one is kept, and uninstall.sh says so);
# - the listener it started: stopped by the pid in its pid file (only while that process is libvirt-shim watch), or its
#   systemd unit disabled, stopped and removed;
# - directories it created, when empty.
# A running libvirtd (or virtqemud) reading that configuration gets SIGHUP, so it stops calling the hook (not with
# --root unless --reload, as for install.sh).
# The state in /run/libvirt/shim and the log are left; the links of running guests are left too (stop the guests
# first, or they keep macvtaps nobody deletes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hooks/hooklib.sh
. "$here/hooklib.sh"
root="" reload=1 force_reload=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2:?--root needs a directory}; shift ;;
    --no-reload) reload=0 ;;
    --reload) force_reload=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$root" ]; then
  root=$(cd "$root" && pwd); [ "$force_reload" = 1 ] || reload=0
fi
libdir="$root/usr/local/lib/libvirt-shim"
manifest="$libdir/installed"
[ -f "$manifest" ] || { echo "uninstall.sh: nothing installed here ($manifest missing)"; exit 0; }

exe=$(sed -n 's/^exe://p' "$manifest" | head -n 1)
if [ -z "$root" ] && [ -n "$exe" ] && [ -x "$exe" ]; then
  created=$("$exe" status --json 2>/dev/null | grep -c '"heldAs": "created"' || true)
  if [ "${created:-0}" -gt 0 ]; then
    echo "note: $created macvtaps libvirt-shim created for guests still exist; with the hook gone nobody deletes them when those guests stop"
  fi
fi

remove_hook() {
  if ! shim_exists "$1"; then return; fi
  if shim_is_shim "$root" "$1"; then
    rm -f "$1" && echo "removed the hook $1"
    etcs+=("${1%/hooks/*}")
  else
    echo "left $1 alone: it is not libvirt-shim any more"
  fi
}

# The listener first: it runs the executable, and its pid is checked against that executable's command line.
while IFS= read -r line; do
  case $line in
    watch:*) shim_stop_listener "${line#watch:}" || true ;;
    unit:*)
      unit=${line#unit:}
      if [ -z "$root" ] && shim_systemd_runs; then
        systemctl disable --now --quiet "$(basename "$unit")" || true
      fi
      if shim_exists "$unit"; then rm -f "$unit" && echo "removed the listener's unit $unit"; fi
      if [ -z "$root" ] && shim_systemd_runs; then systemctl daemon-reload || true; fi ;;
  esac
done < "$manifest"

etcs=()
# Files first (hooks before the executable they point to), then the directories install created, deepest first.
while IFS= read -r line; do
  case $line in
    hook:*) remove_hook "${line#hook:}" ;;
    dir:*|exe:*|settings:*|watch:*|unit:*) ;;
    *) [ -L "$line" ] && remove_hook "$line" ;;  # manifests of earlier install.sh versions: plain paths
  esac
done < "$manifest"
while IFS= read -r line; do
  case $line in
    settings:*|/*.json)
      spec=${line#settings:}; path=${spec%% *}; sum=${spec#"$path"}; sum=${sum# }
      shim_exists "$path" || continue
      if [ -z "$sum" ] || [ "$(sha256sum "$path" | cut -d' ' -f1)" = "$sum" ]; then
        rm -f "$path" && echo "removed $path"
      else
        echo "kept $path: it was changed since install (remove it by hand if it is no longer needed)"
      fi ;;
    exe:*|/*)
      path=${line#exe:}
      if [ -L "$path" ] || ! shim_exists "$path"; then continue; fi
      if shim_is_shim "$root" "$path"; then rm -f "$path" && echo "removed $path"; else echo "left $path alone: it is not libvirt-shim"; fi ;;
  esac
done < "$manifest"
dirs=$(sed -n 's/^dir://p' "$manifest" | sort -r)
rm -f "$manifest"
for d in $dirs; do if rmdir "$d" 2>/dev/null; then echo "removed $d"; fi; done

if [ "$reload" = 1 ] && [ ${#etcs[@]} -gt 0 ]; then
  for etc in $(printf '%s\n' "${etcs[@]}" | sort -u); do shim_reload_libvirt "$etc" "$root/run/libvirt-shim/sighup"; done
fi
