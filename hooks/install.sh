#!/usr/bin/env bash
# Installs libvirt-shim as libvirt's qemu hook.
#
#   hooks/install.sh [--qemu.d] [--root DIR] [--etc DIR] [--binary FILE] [--no-reload | --reload] [--no-watch]
#
# - the executable goes to $ROOT/usr/local/sbin/libvirt-shim (admin commands: libvirt-shim --help);
# - the hook is a symlink to it: $ETC/hooks/qemu, or with --qemu.d (libvirt 6.5+) $ETC/hooks/qemu.d/libvirt-shim.
#   A hooks/qemu that is not libvirt-shim is never overwritten: the hook then goes into qemu.d/ (and install.sh
#   says so); a qemu.d/libvirt-shim that is not libvirt-shim is never overwritten either (install.sh stops);
# - $ETC/libvirt-shim.json, the settings, is written with the defaults unless it exists;
# - the listener (libvirt-shim watch: links follow their guests' vCPUs): where systemd runs, the unit
#   $ROOT/etc/systemd/system/libvirt-shim-watch.service, enabled and (re)started; on a running system without systemd,
#   started in the background with its pid in /run/libvirt-shim/watch.pid (restarted on upgrade); into a tree without
#   systemd, or with --etc (another daemon's configuration), not at all (install.sh says how to run it). --no-watch: never;
# - what was added is listed in $ROOT/usr/local/lib/libvirt-shim/installed, which hooks/uninstall.sh reads.
# libvirtd looks for hooks when it starts and on SIGHUP: a running libvirtd (or virtqemud) that reads $ETC gets
# SIGHUP, and install.sh says so. Running it again upgrades the executable and keeps the settings.
# --root DIR installs into a tree (tests; no signal). --etc DIR is libvirt's config directory (default $ROOT/etc/libvirt).
# --no-reload sends no signal; --reload sends it even with --root (to the daemons that read that tree's etc/libvirt,
# e.g. one in a mount namespace over it). Refuses when the Debian package libvirt-shim is installed (use apt for that one);
# a package removed but not purged (dpkg: config-files) is gone: its settings file, if still there, is kept and used.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=hooks/hooklib.sh
. "$here/hooklib.sh"
root="" etc="" binary="$here/../artifacts/libvirt-shim" qemud=0 reload=1 force_reload=0 watch=1
while [ $# -gt 0 ]; do
  case "$1" in
    --qemu.d) qemud=1 ;;
    --root) root=${2:?--root needs a directory}; shift ;;
    --etc) etc=${2:?--etc needs a directory}; shift ;;
    --binary) binary=${2:?--binary needs a file}; shift ;;
    --no-reload) reload=0 ;;
    --reload) force_reload=1 ;;
    --no-watch) watch=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
fail() { echo "install.sh: $*" >&2; exit 1; }
if [ -n "$root" ]; then
  [ -d "$root" ] || fail "--root $root is not a directory"
  root=$(cd "$root" && pwd); [ "$force_reload" = 1 ] || reload=0
fi
own_etc=1
[ -z "$etc" ] || [ "$etc" = "$root/etc/libvirt" ] || own_etc=0
etc=${etc:-$root/etc/libvirt}
[ -x "$binary" ] || fail "$binary not found or not executable; run ./build.sh first (or give --binary FILE)"
shim_is_shim "" "$binary" || fail "$binary is not a libvirt-shim executable"
# The package's dpkg state ("installed", "config-files", ...; nothing when dpkg never knew it), from dpkg's status file.
package_state=$(awk '/^Package: / { mine = ($2 == "libvirt-shim") } mine && /^Status: / { print $4; exit }' \
  "$root/var/lib/dpkg/status" 2>/dev/null || true)
case $package_state in
  ""|not-installed) ;;
  config-files) echo "note: the Debian package libvirt-shim was removed but not purged: only its settings and log remain, and are kept" ;;
  *) fail "the Debian package libvirt-shim is installed here (dpkg: $package_state): upgrade it with" \
       "'apt-get install ./libvirt-shim_VERSION_amd64.deb', or remove it ('apt-get remove libvirt-shim' keeps its settings) before using install.sh" ;;
esac

sbin="$root/usr/local/sbin"
libdir="$root/usr/local/lib/libvirt-shim"
manifest="$libdir/installed"
exe="$sbin/libvirt-shim"
hooks="$etc/hooks"

# Where the hook goes, decided before anything is changed.
main="$hooks/qemu"
side="$hooks/qemu.d/libvirt-shim"
target=$main
if [ "$qemud" = 1 ]; then
  target=$side
elif shim_exists "$main" && ! shim_is_shim "$root" "$main"; then
  target=$side
  echo "note: $main is another program's hook: left alone; libvirt-shim goes into qemu.d/ (libvirt runs it after hooks/qemu)"
fi
if [ "$target" = "$side" ]; then
  if shim_exists "$side" && ! shim_is_shim "$root" "$side"; then
    fail "$side exists and is not libvirt-shim: left alone, and nothing was installed (move that file away and run install.sh again)"
  fi
  version=$(shim_libvirt_version "$root")
  if [ -n "$version" ] && shim_version_lt "$version" 6.5; then
    echo "WARNING: libvirt $version does not run hooks in qemu.d/ (it does since 6.5): libvirt-shim is installed there but libvirt will not call it."
    echo "         Make $main run it: 'exec $(printf '%s' "${exe#"$root"}") hook \"\$@\"' at its end (the domain XML arrives on stdin), or upgrade libvirt."
  fi
fi

added() { grep -qxF "$1" "$manifest" 2>/dev/null || echo "$1" >> "$manifest"; }
forget() { [ -f "$manifest" ] && { grep -vxF "$1" "$manifest" > "$manifest.new" || true; mv -f "$manifest.new" "$manifest"; }; }
# Creates a directory and its missing parents, listing each one it created (parents first) for uninstall.
pending=()
make_dir() {
  local missing=() d=$1
  while [ ! -d "$d" ]; do missing=("$d" "${missing[@]}"); d=$(dirname "$d"); done
  for d in "${missing[@]}"; do
    mkdir "$d"
    if [ -f "$manifest" ]; then added "dir:$d"; else pending+=("dir:$d"); fi
  done
}

make_dir "$libdir"
touch "$manifest"
for p in "${pending[@]}"; do added "$p"; done
make_dir "$sbin"
make_dir "$hooks"
install -m 0755 "$binary" "$exe.new" && mv -f "$exe.new" "$exe"
added "exe:$exe"
echo "installed $exe ($("$exe" --version 2>/dev/null || echo "version unknown"))"

# One hook, not two: libvirt would run libvirt-shim twice per call.
for other in "$main" "$side"; do
  if [ "$other" != "$target" ] && shim_exists "$other" && shim_is_shim "$root" "$other"; then
    rm -f "$other"
    forget "hook:$other"; forget "$other"
    echo "removed the earlier hook $other (libvirt would run libvirt-shim twice)"
  fi
done
make_dir "$(dirname "$target")"
ln -sfn "${exe#"$root"}" "$target.new" && mv -Tf "$target.new" "$target"
added "hook:$target"
echo "installed the hook $target -> ${exe#"$root"}"

settings="$etc/libvirt-shim.json"
if ! shim_exists "$settings"; then
  install -m 0644 "$here/libvirt-shim.json" "$settings"
  added "settings:$settings $(sha256sum "$settings" | cut -d' ' -f1)"
  echo "installed default settings $settings"
else
  echo "kept existing settings $settings"
fi

# The listener, after the executable it runs is in place: restarted, so an upgrade runs the new one.
units="$root/etc/systemd/system"
if [ "$watch" = 0 ]; then
  echo "the listener was not installed (--no-watch): start 'libvirt-shim watch' as a service to have links follow their guests' vCPUs"
elif [ "$own_etc" = 0 ]; then
  echo "the listener was not started (--etc: another daemon's configuration): run 'LIBVIRT_SHIM_CONFIG=$etc/libvirt-shim.json" \
    "${exe#"$root"} watch -c URI' where that daemon's hook runs"
elif { [ -z "$root" ] && shim_systemd_runs; } || { [ -n "$root" ] && [ -d "$root/usr/lib/systemd/system" ]; }; then
  make_dir "$units"
  shim_watch_unit "${exe#"$root"}" > "$units/$SHIM_WATCH_UNIT.new" && mv -f "$units/$SHIM_WATCH_UNIT.new" "$units/$SHIM_WATCH_UNIT"
  added "unit:$units/$SHIM_WATCH_UNIT"
  if [ -z "$root" ]; then
    if systemctl daemon-reload && systemctl enable --quiet "$SHIM_WATCH_UNIT" && systemctl restart "$SHIM_WATCH_UNIT"; then
      echo "installed and started the listener $units/$SHIM_WATCH_UNIT (systemctl status $SHIM_WATCH_UNIT)"
    else
      echo "WARNING: installed $units/$SHIM_WATCH_UNIT, but systemctl could not start it: systemctl status $SHIM_WATCH_UNIT"
    fi
  else
    echo "installed the listener $units/$SHIM_WATCH_UNIT: enable it there (systemctl enable --now $SHIM_WATCH_UNIT)"
  fi
elif [ -z "$root" ]; then
  added "watch:$SHIM_WATCH_PIDFILE"
  shim_stop_listener "$SHIM_WATCH_PIDFILE" || true
  shim_start_listener "$exe" "$SHIM_WATCH_PIDFILE" || true
else
  echo "the listener was not started (a tree without systemd): run '${exe#"$root"} watch' where the tree's daemon runs"
fi

if [ "$reload" = 1 ]; then
  shim_reload_libvirt "$etc" "$root/run/libvirt-shim/sighup"
else
  echo "libvirtd notices a new hook only when it starts or gets SIGHUP: restart it, or kill -HUP its pid"
fi
echo "check the setup with: ${exe#"$root"} doctor"
