#!/usr/bin/env bash
# Installs and removes the Debian package for real, with apt-get, in a throwaway mount namespace whose /etc, /usr and
# /var are overlays of the host's (and /run a fresh tmpfs): apt, dpkg and the maintainer scripts run as on a real
# host, but the host's files, dpkg database, libvirt configuration and state are untouched, whatever is installed
# there, and everything goes when the namespace ends. A process named libvirtd started inside the namespace stands
# for the daemon: the maintainer scripts must SIGHUP it (its default action ends it), and only it.
#
#   packaging/test-deb.sh [DEB]      (root; DEB defaults to the newest artifacts/libvirt-shim_*_amd64.deb)
#
# Scenarios: a fresh install (hook in hooks/qemu, settings as a conffile, SIGHUP, the listener started with its pid file:
# there is no systemd in the sandbox), reinstall (no change, no SIGHUP, the listener restarted), remove (binary and hook
# gone, settings kept, SIGHUP, the listener stopped) and purge (settings gone); another program's hooks/qemu
# (libvirt-shim goes to qemu.d/, the other hook is untouched by install and remove); an installation by
# hooks/install.sh (the package refuses); a package removed but not purged (install.sh installs and starts its listener,
# a later purge leaves that installation's state, log and listener, uninstall.sh stops it). Exit 0 when all pass, 1 on a
# failure, 77 when this machine cannot run it.
set -euo pipefail

if [ "${1:-}" != --inside ]; then
  [ "$(id -u)" = 0 ] || { echo "test-deb.sh: needs root (mount namespaces, apt-get)" >&2; exit 77; }
  cd "$(dirname "$0")/.."
  deb=${1:-}
  if [ -z "$deb" ]; then
    for f in artifacts/libvirt-shim_*_amd64.deb; do
      if [ -e "$f" ] && { [ -z "$deb" ] || [ "$f" -nt "$deb" ]; }; then deb=$f; fi
    done
  fi
  [ -f "$deb" ] || { echo "test-deb.sh: no package (run ./build.sh first)" >&2; exit 1; }
  for tool in unshare apt-get dpkg-deb; do
    command -v "$tool" >/dev/null || { echo "test-deb.sh: $tool is missing" >&2; exit 77; }
  done
  work=$(mktemp -d /tmp/shim-debtest.XXXXXX)
  status=0
  unshare --mount --propagation private "$(realpath "$0")" --inside "$(realpath "$deb")" "$work" || status=$?
  rm -rf "$work"
  exit "$status"
fi

deb=$2 work=$3
version=$(dpkg-deb -f "$deb" Version)
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; [ -f "$work/last.log" ] && sed 's/^/  | /' "$work/last.log"; exit 1; }

# The sandbox: a tmpfs for upper layers, overlays over /etc /usr /var, a private /run.
mount -t tmpfs -o mode=0755 shim-debtest "$work"
for d in etc usr var; do
  mkdir -p "$work/$d.upper" "$work/$d.work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$work/$d.upper,workdir=$work/$d.work" "/$d" \
    || { echo "test-deb.sh: cannot mount an overlay over /$d (no overlayfs?)" >&2; exit 77; }
done
mount -t tmpfs -o mode=0755 shim-debtest-run /run
mkdir -p /run/lock /etc/libvirt "$work/bin"
cp "$deb" "$work/"
deb="$work/$(basename "$deb")"
# The stand-in daemon: a script named libvirtd (its process is named after the script) that notes a SIGHUP and ends.
# shellcheck disable=SC2016 # $child and $! are the stand-in's own
printf '%s\n' '#!/bin/sh' \
  "trap 'kill \$child 2>/dev/null; echo \$\$ > $work/hup; exit 0' HUP" "trap 'kill \$child 2>/dev/null; exit 0' TERM" \
  'sleep 600 & child=$!' 'wait $child' > "$work/bin/libvirtd"
chmod 755 "$work/bin/libvirtd"

# A clean slate inside the sandbox: whatever libvirt-shim the host has is not there.
if dpkg-query -W -f='${db:Status-Abbrev}' libvirt-shim 2>/dev/null | grep -q '^[ir]'; then
  dpkg --purge libvirt-shim >/dev/null 2>&1 || true
fi
rm -rf /etc/libvirt/hooks /etc/libvirt/libvirt-shim.json /usr/local/lib/libvirt-shim /usr/local/sbin/libvirt-shim /var/lib/libvirt-shim

apt() { DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=120 --no-install-recommends "$@" > "$work/last.log" 2>&1; }
fake_libvirtd() { rm -f "$work/hup"; "$work/bin/libvirtd" & fake=$!; }
expect_hup() {
  local rc=0
  wait "$fake" || rc=$?
  { [ "$rc" = 0 ] && [ "$(cat "$work/hup" 2>/dev/null)" = "$fake" ]; } || fail "$1: the fake libvirtd (pid $fake) did not get SIGHUP (wait status $rc)"
  grep -q "sent SIGHUP to libvirtd (pid $fake)" "$work/last.log" || fail "$1: no word of the SIGHUP"
  pass "$1: libvirtd got SIGHUP, and the output says so"
}
no_hup() {
  kill -0 "$fake" 2>/dev/null || fail "$1: the fake libvirtd is gone (it got a signal)"
  kill -TERM "$fake"; wait "$fake" 2>/dev/null || true
  [ ! -e "$work/hup" ] || fail "$1: the fake libvirtd got SIGHUP"
  pass "$1: no SIGHUP"
}
installed_state() { dpkg-query -W -f='${db:Status-Abbrev}' libvirt-shim 2>/dev/null | cut -c1-2 || true; }

# The listener: what /run/libvirt-shim/watch.pid names, while that process is a libvirt-shim watch.
watch_pid=/run/libvirt-shim/watch.pid
listener() { local p; p=$(cat "$watch_pid" 2>/dev/null) && tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q 'libvirt-shim watch ' && echo "$p"; }
# A listener started in the sandbox must not outlive it, whatever failed.
trap 'p=$(listener) && kill "$p" 2>/dev/null; true' EXIT
expect_listener() {
  local p
  p=$(listener) || fail "$1: no listener runs ($watch_pid: $(cat "$watch_pid" 2>/dev/null || echo missing))"
  grep -q "started the listener (libvirt-shim watch, pid $p" "$work/last.log" || fail "$1: no word of the listener (pid $p) starting"
  pass "$1: the listener runs (pid $p, $watch_pid), and the output says so"
}
expect_listener_stopped() {
  local p=$1
  [ ! -d "/proc/$p" ] || ! tr '\0' ' ' < "/proc/$p/cmdline" | grep -q 'libvirt-shim watch ' || fail "$2: the listener (pid $p) still runs"
  [ ! -e "$watch_pid" ] || fail "$2: $watch_pid is still there"
  grep -q "stopped the listener (libvirt-shim watch, pid $p)" "$work/last.log" || fail "$2: no word of the listener stopping"
  pass "$2: the listener (pid $p) stopped, and the output says so"
}

# 1. Fresh install.
fake_libvirtd
apt install "$deb" || fail "apt-get install $deb"
pass "apt-get install ./$(basename "$deb")"
[ -x /usr/sbin/libvirt-shim ] || fail "/usr/sbin/libvirt-shim missing"
[ "$(/usr/sbin/libvirt-shim --version)" = "$version" ] || fail "libvirt-shim --version is not $version"
[ "$(readlink /etc/libvirt/hooks/qemu)" = /usr/sbin/libvirt-shim ] || fail "/etc/libvirt/hooks/qemu is not a symlink to /usr/sbin/libvirt-shim"
grep -q "installed the hook /etc/libvirt/hooks/qemu -> /usr/sbin/libvirt-shim" "$work/last.log" || fail "install did not say where the hook went"
[ -f /etc/libvirt/libvirt-shim.json ] || fail "/etc/libvirt/libvirt-shim.json missing"
dpkg-query -W -f='${Conffiles}' libvirt-shim | grep -q '/etc/libvirt/libvirt-shim.json' || fail "the settings file is not a conffile"
pass "files: /usr/sbin/libvirt-shim ($version), hooks/qemu -> it, /etc/libvirt/libvirt-shim.json (conffile)"
expect_hup "install"
printf '<domain><name>g</name><uuid>6d1c1a5e-1f6c-4a0e-9b55-3c2f0e3a7a11</uuid><devices/></domain>' \
  | /etc/libvirt/hooks/qemu g started begin - || fail "the installed hook failed a call with nothing to do"
pass "the installed hook runs (a call with nothing to do exits 0)"
expect_listener "install"
first=$(listener)

# 2. Reinstall: the hook is in place, nothing to tell libvirtd.
fake_libvirtd
apt install --reinstall "$deb" || fail "apt-get install --reinstall"
grep -q "the hook /etc/libvirt/hooks/qemu -> /usr/sbin/libvirt-shim is in place" "$work/last.log" || fail "reinstall: hook not reported in place"
no_hup "reinstall"
grep -q "stopped the listener (libvirt-shim watch, pid $first)" "$work/last.log" || fail "reinstall: the old listener was not stopped"
expect_listener "reinstall"
second=$(listener)

# 3. Remove: binary and hook go, the settings (a conffile) stay until purge.
fake_libvirtd
apt remove libvirt-shim || fail "apt-get remove"
[ ! -e /usr/sbin/libvirt-shim ] || fail "remove left /usr/sbin/libvirt-shim"
if [ -L /etc/libvirt/hooks/qemu ]; then fail "remove left the hook /etc/libvirt/hooks/qemu"; fi
[ ! -e /etc/libvirt/hooks ] || fail "remove left /etc/libvirt/hooks, which the package created"
[ -f /etc/libvirt/libvirt-shim.json ] || fail "remove deleted the conffile (purge does that)"
[ ! -e /var/lib/libvirt-shim ] || fail "remove left /var/lib/libvirt-shim"
[ "$(installed_state)" = rc ] || fail "after remove, dpkg says '$(installed_state)', not rc"
pass "apt-get remove: binary, hook and /etc/libvirt/hooks gone; settings kept"
expect_hup "remove"
expect_listener_stopped "$second" "remove"
apt purge libvirt-shim || fail "apt-get purge"
[ ! -e /etc/libvirt/libvirt-shim.json ] || fail "purge left /etc/libvirt/libvirt-shim.json"
[ -z "$(installed_state)" ] || [ "$(installed_state)" = un ] || fail "after purge, dpkg says '$(installed_state)'"
pass "apt-get purge: settings gone, package unknown to dpkg"

# 4. Another program's hooks/qemu: left alone; libvirt-shim goes into qemu.d/.
mkdir -p /etc/libvirt/hooks
printf '#!/bin/sh\n# someone else'"'"'s hook\nexit 0\n' > /etc/libvirt/hooks/qemu
chmod 755 /etc/libvirt/hooks/qemu
cp /etc/libvirt/hooks/qemu "$work/foreign"
fake_libvirtd
apt install "$deb" || fail "apt-get install with a foreign hook"
cmp -s /etc/libvirt/hooks/qemu "$work/foreign" || fail "install changed the foreign hooks/qemu"
[ "$(readlink /etc/libvirt/hooks/qemu.d/libvirt-shim)" = /usr/sbin/libvirt-shim ] || fail "no hooks/qemu.d/libvirt-shim"
grep -q "is another program's hook: left alone" "$work/last.log" || fail "install did not say it left the foreign hook alone"
pass "foreign hooks/qemu kept; libvirt-shim installed as hooks/qemu.d/libvirt-shim, and the output says so"
expect_hup "install beside a foreign hook"
apt purge libvirt-shim || fail "apt-get purge (foreign hook)"
cmp -s /etc/libvirt/hooks/qemu "$work/foreign" || fail "purge changed the foreign hooks/qemu"
[ ! -e /etc/libvirt/hooks/qemu.d ] || fail "purge left hooks/qemu.d, which the package created"
pass "purge: qemu.d/libvirt-shim and qemu.d/ gone, the foreign hook untouched"
rm -rf /etc/libvirt/hooks

# 5. An installation by hooks/install.sh: the package refuses rather than install a second hook.
mkdir -p /usr/local/lib/libvirt-shim
echo "exe:/usr/local/sbin/libvirt-shim" > /usr/local/lib/libvirt-shim/installed
if apt install "$deb"; then fail "the package installed over an install.sh installation"; fi
grep -q "already installed by hooks/install.sh" "$work/last.log" || fail "the refusal does not say why"
{ [ ! -e /usr/sbin/libvirt-shim ] && [ ! -e /etc/libvirt/hooks/qemu ]; } || fail "the refused install left files"
case $(installed_state) in ""|?n) ;; *) fail "after the refused install, dpkg says '$(installed_state)'" ;; esac
pass "an install.sh installation is there: the package refuses, says why, and leaves nothing"
rm -rf /usr/local/lib/libvirt-shim
dpkg --purge libvirt-shim >/dev/null 2>&1 || true

# 6. Removed but not purged (dpkg: rc): hooks/install.sh takes over, keeping the settings; a later purge deletes the
# conffile only, not that installation's state and log.
apt install "$deb" || fail "apt-get install (before remove)"
echo '{ "LogLevel": "Debug" }' > /etc/libvirt/libvirt-shim.json
mkdir -p /run/libvirt/shim /var/log/libvirt && echo state > /run/libvirt/shim/marker && echo log > /var/log/libvirt/shim.log
apt remove libvirt-shim || fail "apt-get remove (before install.sh)"
[ "$(installed_state)" = rc ] || fail "after remove, dpkg says '$(installed_state)', not rc"
hooks/install.sh --binary artifacts/libvirt-shim --no-reload > "$work/last.log" 2>&1 || fail "install.sh refused a removed-but-not-purged package"
expect_listener "install.sh"
ours=$(listener)
grep -q "removed but not purged" "$work/last.log" || fail "install.sh did not say the package was removed but not purged"
grep -q "kept existing settings /etc/libvirt/libvirt-shim.json" "$work/last.log" || fail "install.sh did not keep the settings"
[ "$(readlink /etc/libvirt/hooks/qemu)" = /usr/local/sbin/libvirt-shim ] || fail "install.sh did not install the hook"
pass "removed but not purged: install.sh installs, keeps the settings, and says so"
apt purge libvirt-shim || fail "apt-get purge (after install.sh)"
grep -q "its state and log stay" "$work/last.log" || fail "purge did not say it left install.sh's state and log"
{ [ -f /run/libvirt/shim/marker ] && [ -f /var/log/libvirt/shim.log ]; } || fail "purge deleted install.sh's state or log"
[ "$(readlink /etc/libvirt/hooks/qemu)" = /usr/local/sbin/libvirt-shim ] || fail "purge touched install.sh's hook"
[ "$(listener)" = "$ours" ] || fail "purge touched install.sh's listener"
pass "purge after install.sh: the state, the log, install.sh's hook and its listener stay"
hooks/uninstall.sh --no-reload > "$work/last.log" 2>&1 || fail "uninstall.sh"
expect_listener_stopped "$ours" "uninstall.sh"

echo "all package checks passed (libvirt-shim $version)"
