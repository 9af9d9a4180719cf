#!/usr/bin/env bash
# A small bootable Linux guest for the end-to-end tests, made from Debian's packages without installing them:
# the kernel of linux-image-cloud-amd64, busybox-static, and the virtio-net modules, in a gzipped newc initramfs.
#
#   scripts/guest-image.sh [DIR]    build into DIR (default $GUEST_IMAGE_DIR or /var/cache/libvirt-shim-guest)
#                                   unless DIR already holds an image made by this version of the script;
#                                   prints DIR. DIR/vmlinuz and DIR/initrd.gz are what a domain boots.
#
# Boot it with <os><kernel>DIR/vmlinuz</kernel><initrd>DIR/initrd.gz</initrd><cmdline>console=ttyS0 ...</cmdline>
# under TCG (<domain type='qemu'>) and a <serial type='file'> console. Its /init reads from the kernel command line:
#
#   shim.nic=MAC,IPV4/LEN,IPV6/LEN,MTU   one per NIC (any field but MAC may be empty): the NIC with that MAC gets
#                                         the addresses (IPv6 without duplicate-address detection) and the MTU
#   shim.hotnic=MAC,IPV4/LEN,IPV6/LEN,MTU the same for a NIC hot-plugged later: not waited for at boot
#   shim.spoof=MAC,IPV4,VICTIM,FIRST,LAST after "ready", the first NIC misbehaves as a guest trying to pass for
#                                         another would, round after round (one "spoof round N" line each, about
#                                         2 s apart): it sends pings from the foreign address IPV4, a gratuitous ARP
#                                         claiming VICTIM (say, the gateway), runs busybox udhcpd (leases FIRST to
#                                         LAST) and a DHCP client (udhcpc: what a guest may do), and sends pings with
#                                         its MAC changed to MAC, then changes it back
#
# and prints one line per event on the console, each starting with "shim-guest:":
#
#   shim-guest: nic MAC dev eth0 mtu 1500 ipv4 192.0.2.10/24 ipv6 2001:db8::10/64
#   shim-guest: queues MAC dev eth0 rx 4 tx 4   (the queue pairs the driver uses, after each nic line)
#   shim-guest: missing MAC               (no NIC with that MAC)
#   shim-guest: ready                     (every NIC configured; the kernel answers pings from now on)
#   shim-guest: gone MAC dev eth1         (a configured NIC was unplugged)
#   shim-guest: power button              (ACPI's power button, virsh shutdown: it powers off at once)
#   shim-guest: spoof round N             (one round of shim.spoof done)
#
# After "ready" it looks at the NICs twice a second: a NIC that appears with the MAC of a shim.nic or shim.hotnic
# entry is configured by that entry (its "nic" line follows), and one that disappears gets its "gone" line (also one
# unplugged and plugged in again between two looks, told by its new ifindex).
#
# The guest answers ARP only on the NIC that has the address asked for (several NICs share one LAN), announces
# itself with ARP and unsolicited NA when QEMU asks it to (after a migration), and has no IPv6 link-local address
# of the EUI-64 kind, so none of its frames looks like what a host kernel sends from a new link.
# Needs root (dpkg-deb keeps owners), apt-get with working sources, cpio and gzip.
set -euo pipefail

readonly DIR="${1:-${GUEST_IMAGE_DIR:-/var/cache/libvirt-shim-guest}}"
readonly PACKAGES=(linux-image-cloud-amd64 busybox-static)
# virtio-net and what it needs, in load order (`modinfo -F depends`).
readonly MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover
                  virtio_net)
# ACPI's power button as an input device (virsh shutdown); absent without <features><acpi/>, so loaded where it can be.
readonly OPTIONAL_MODULES=(evdev button)

say() { printf 'guest-image: %s\n' "$*" >&2; }
die() { printf 'guest-image: ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"
for tool in apt-get dpkg-deb cpio gzip; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install cpio gzip)"
done

# The image is rebuilt whenever this script (and so the /init below) changes.
stamp=$(sha256sum "$0" | cut -c1-16)
if [[ -s $DIR/vmlinuz && -s $DIR/initrd.gz && $(cat "$DIR/stamp" 2>/dev/null) == "$stamp" ]]; then
    say "reusing $DIR ($(cat "$DIR/versions"))"
    echo "$DIR"
    exit 0
fi

write_init() {
    cat >"$1" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo 0 >/proc/sys/kernel/printk
# Before the NICs exist, so that each inherits these.
sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.all.arp_notify=1
sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.ndisc_notify=1 \
    net.ipv6.conf.default.addr_gen_mode=3 net.ipv6.conf.default.accept_ra=0
for m in $(cat /modules.order); do insmod "/modules/$m.ko" || echo "shim-guest: insmod $m failed"; done
for m in $(cat /optional.order); do insmod "/modules/$m.ko" 2>/dev/null; done
ip link set lo up

nic_named() {
    for d in /sys/class/net/*; do
        [ "$(cat "$d/address")" = "$1" ] && { basename "$d"; return 0; }
    done
    return 1
}

# One line per entry of the command line: KIND,MAC,IPV4,IPV6,MTU (KIND nic or hotnic).
for word in $(cat /proc/cmdline); do
    key=${word%%=*}
    case "$key" in shim.nic|shim.hotnic) echo "${key#shim.},${word#*=}" ;; esac
done >/nics

# Configured NICs, one "MAC DEV" line each.
: >/up
configure() {
    local mac=$1 dev=$2 v4=$3 v6=$4 mtu=$5
    [ -n "$mtu" ] && ip link set "$dev" mtu "$mtu"
    ip link set "$dev" up
    [ -n "$v4" ] && ip addr add "$v4" dev "$dev"
    [ -n "$v6" ] && ip -6 addr add "$v6" dev "$dev"
    echo "$mac $dev $(cat /sys/class/net/$dev/ifindex)" >>/up
    echo "shim-guest: nic $mac dev $dev mtu $(cat /sys/class/net/$dev/mtu) ipv4 ${v4:--} ipv6 ${v6:--}"
    echo "shim-guest: queues $mac dev $dev rx $(ls -d /sys/class/net/$dev/queues/rx-* | wc -l)" \
        "tx $(ls -d /sys/class/net/$dev/queues/tx-* | wc -l)"
}

# The NICs appear once virtio_net has probed them: wait (bounded) for each.
while IFS=, read -r kind mac v4 v6 mtu; do
    [ "$kind" = nic ] || continue
    dev=""
    i=0
    while [ $i -lt 100 ]; do
        dev=$(nic_named "$mac") && break
        i=$((i + 1)); sleep 0.1
    done
    if [ -z "$dev" ]; then echo "shim-guest: missing $mac"; continue; fi
    configure "$mac" "$dev" "$v4" "$v6" "$mtu"
done </nics
echo "shim-guest: ready"

# virsh shutdown presses ACPI's power button: power off at once (nothing to sync: no disk).
for d in /sys/class/input/event*; do
    [ "$(cat "$d/device/name" 2>/dev/null)" = "Power Button" ] || continue
    ( head -c 1 "/dev/input/${d##*/}" >/dev/null && echo "shim-guest: power button" && poweroff -f ) &
done
# shim.spoof: a background loop on the first NIC (see the header).
spoof=""
for word in $(cat /proc/cmdline); do case "$word" in shim.spoof=*) spoof=${word#shim.spoof=} ;; esac; done
if [ -n "$spoof" ]; then
    IFS=, read -r fmac fv4 victim first last <<EOF2
$spoof
EOF2
    read -r omac sdev _ </up
    ip addr add "$fv4/32" dev "$sdev"
    mkdir -p /var/lib/misc
    printf 'interface %s\nstart %s\nend %s\noption subnet 255.255.255.0\nlease_file /tmp/udhcpd.leases\n' \
        "$sdev" "$first" "$last" >/udhcpd.conf
    : >/tmp/udhcpd.leases
    udhcpd -f /udhcpd.conf >/dev/null 2>&1 &
    (
        n=0
        while :; do
            n=$((n + 1))
            ping -c 1 -W 1 -I "$fv4" "$victim" >/dev/null 2>&1
            arping -c 1 -U -s "$victim" -I "$sdev" "$victim" >/dev/null 2>&1
            udhcpc -i "$sdev" -n -q -t 1 -T 1 -s /bin/true >/dev/null 2>&1
            ip link set "$sdev" address "$fmac"
            ping -c 1 -W 1 "$victim" >/dev/null 2>&1
            ip link set "$sdev" address "$omac"
            echo "shim-guest: spoof round $n"
            sleep 1
        done
    ) &
fi

# Hot-plug: NICs that go and NICs that come (with a MAC of an entry), by polling sysfs. Fd 3: the console. A NIC
# unplugged and plugged in again between two looks (a repair) may come back under the same name: its ifindex tells.
exec 3>&1
while :; do
    while read -r mac dev index; do
        now="" nowindex=""
        { read -r now <"/sys/class/net/$dev/address"; read -r nowindex <"/sys/class/net/$dev/ifindex"; } 2>/dev/null
        [ "$now" = "$mac" ] && [ "$nowindex" = "$index" ] && echo "$mac $dev $index" || echo "shim-guest: gone $mac dev $dev" >&3
    done </up >/up.new
    mv /up.new /up
    for d in /sys/class/net/*; do
        { read -r mac <"$d/address"; } 2>/dev/null || continue
        grep -q "^$mac " /up && continue
        while IFS=, read -r kind m v4 v6 mtu; do
            [ "$m" = "$mac" ] && configure "$mac" "${d##*/}" "$v4" "$v6" "$mtu"
        done </nics
    done
    sleep 0.5
done
INIT
    chmod 755 "$1"
}

build() {
    local work; work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    mkdir -p "$work/debs" "$work/pkg" "$work/root"/{bin,modules}
    (cd "$work/debs" && apt-get download -q -o APT::Sandbox::User=root "${PACKAGES[@]}" >/dev/null 2>&1) || {
        say "apt-get download failed: updating the package lists once"
        apt-get update -qq >&2
        (cd "$work/debs" && apt-get download -q -o APT::Sandbox::User=root "${PACKAGES[@]}") >&2
    }
    # The metapackage names the versioned kernel package it depends on.
    local kernel_pkg
    kernel_pkg=$(dpkg-deb -f "$work"/debs/linux-image-cloud-amd64_*.deb Depends | grep -o 'linux-image-[0-9][^ ,]*-cloud-amd64' | head -n1)
    [[ -n $kernel_pkg ]] || die "linux-image-cloud-amd64 names no kernel package"
    (cd "$work/debs" && apt-get download -q -o APT::Sandbox::User=root "$kernel_pkg") >&2
    local deb
    for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/pkg"; done

    local kernels=("$work"/pkg/boot/vmlinuz-*) vmlinuz
    vmlinuz=${kernels[0]}
    [[ -f $vmlinuz ]] || die "no /boot/vmlinuz-* in $kernel_pkg"
    cp "$work/pkg/bin/busybox" "$work/root/bin/busybox"
    local m path
    for m in "${MODULES[@]}"; do
        path=$(find "$work"/pkg/lib/modules/*/kernel -name "$m.ko" | head -n1)
        [[ -n $path ]] || die "module $m.ko is not in $kernel_pkg"
        cp "$path" "$work/root/modules/"
        echo "$m" >>"$work/root/modules.order"
    done
    : >"$work/root/optional.order"
    for m in "${OPTIONAL_MODULES[@]}"; do
        path=$(find "$work"/pkg/lib/modules/*/kernel -name "$m.ko" | head -n1)
        [[ -n $path ]] || continue
        cp "$path" "$work/root/modules/"
        echo "$m" >>"$work/root/optional.order"
    done
    write_init "$work/root/init"

    mkdir -p "$DIR"
    (cd "$work/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -6 >"$DIR/initrd.gz.new"
    cp "$vmlinuz" "$DIR/vmlinuz.new"
    mv "$DIR/initrd.gz.new" "$DIR/initrd.gz"
    mv "$DIR/vmlinuz.new" "$DIR/vmlinuz"
    echo "$kernel_pkg $(dpkg-deb -f "$work"/debs/"$kernel_pkg"_*.deb Version)" >"$DIR/versions"
    echo "$stamp" >"$DIR/stamp"
}

started=$(date +%s.%N)
build
say "built $DIR ($(cat "$DIR/versions"); initrd $(du -k "$DIR/initrd.gz" | cut -f1) KiB) in $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
echo "$DIR"
