#!/bin/bash
# Stage 2 of the lab guest, run as PID 1 on the overlay root (the machine's own binaries):
# make it a hypervisor host like a production one (udev, sshd, libvirtd, md, dm), then build
# the SAN volumes and the tenants that lab.ts described in its run folder, and say "ready".
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
LAB_GUEST_DIR="$(dirname "$(readlink -f "$0")")"
LAB_WORK="$(dirname "$LAB_GUEST_DIR")/work"
RUN_DIR=""
for word in $(cat /proc/cmdline); do
  case "$word" in sanshift_lab_run=*) RUN_DIR="${word#sanshift_lab_run=}" ;; esac
done

say() { echo "sanshift-lab: $*" > /dev/console; }
step_start=$(date +%s%N)
mark() { local now; now=$(date +%s%N); say "step $1 $(( (now - step_start) / 1000000 )) ms"; step_start=$now; }
die() { say "FAILED: $*"; sleep 1; echo o > /proc/sysrq-trigger; sleep 5; exit 1; }

# The fresh /run, /tmp and /var/tmp below hide the machine's own: a checkout under /tmp (a CI
# clone, say) would vanish with them, and with it this lab's folder. Keep a handle on it first.
LAB_TOP="$(dirname "$LAB_GUEST_DIR")"
mkdir -p /.sanshift-lab && mount --bind "$LAB_TOP" /.sanshift-lab
mount -t tmpfs -o mode=0755,size=64m tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /var/tmp
if [ ! -d "$LAB_GUEST_DIR" ]; then
  mkdir -p "$LAB_TOP" && mount --bind /.sanshift-lab "$LAB_TOP"
fi
hostname lab-hv
echo lab-hv > /etc/hostname
# no DNS behind restrict=on: libvirt resolves the host name at every domain start, and a
# resolver waiting for a server that never answers costs seconds each time
echo "127.0.1.1 lab-hv" >> /etc/hosts
rm -f /etc/resolv.conf && : > /etc/resolv.conf
[ -n "$RUN_DIR" ] && [ -d "$RUN_DIR" ] || die "no run folder (sanshift_lab_run=$RUN_DIR)"

# the kernel modules live in the lab's work folder, not in the machine's /lib/modules
KVER="$(uname -r)"
mkdir -p /lib/modules
ln -sfn "$LAB_WORK/kernel/lib/modules/$KVER" "/lib/modules/$KVER"
for m in md-mod raid1 dm-mod dm-flakey loop virtio_net; do modprobe "$m" || die "modprobe $m"; done
echo 1 > /proc/sys/kernel/sysrq
mark modules

/lib/systemd/systemd-udevd --daemon || die "udevd"
udevadm trigger --action=add
udevadm settle --timeout=30
mark udev

# network: the only way in is qemu's loopback forward to this sshd
ip link set lo up
nic=""
for n in /sys/class/net/*; do n="${n##*/}"; [ "$n" != lo ] && { nic="$n"; break; }; done
[ -n "$nic" ] || die "no network interface"
ip link set "$nic" up
ip addr add 10.0.2.15/24 dev "$nic"
ip route add default via 10.0.2.2
# a production host's root has no pyenv in its .bashrc: under TCG that alone costs 20 s a command
printf '' > /root/.bashrc
printf '' > /root/.profile
mkdir -p /root/.ssh /run/sshd
chmod 700 /root/.ssh
cp "$LAB_WORK/id_ed25519.pub" /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
ssh-keygen -A >/dev/null 2>&1
# no PAM (pam_systemd waits for a logind that is not there); many sessions: sanshift
# multiplexes its commands over one connection per host
/usr/sbin/sshd -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no -o UseDNS=no \
  -o UsePAM=no \
  -o MaxSessions=64 -o MaxStartups=64:30:128 -E /var/log/sshd.log || die "sshd"
mark sshd

# libvirtd: writable dirs, the users its qemu driver insists on, the qemu.conf of LAB-NOTES
mkdir -p /run/libvirt /var/log/libvirt/qemu /var/lib/libvirt/qemu /var/cache/libvirt /etc/libvirt
getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent group libvirt >/dev/null || groupadd -r libvirt
getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
cp "$RUN_DIR/qemu.conf" /etc/libvirt/qemu.conf
# probing qemu's capabilities costs about 20 s under TCG: reuse what an earlier boot probed
# (lab.ts saves it; libvirt itself throws it away if qemu or libvirtd changed)
if [ -d "$LAB_WORK/libvirt-capabilities" ]; then
  mkdir -p /var/cache/libvirt/qemu/capabilities
  cp "$LAB_WORK"/libvirt-capabilities/*.xml /var/cache/libvirt/qemu/capabilities/ 2>/dev/null
fi
cat > /etc/libvirt/libvirtd.conf <<'CONF'
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
CONF
libvirtd -d || die "libvirtd"
for _ in $(seq 50); do [ -S /run/libvirt/libvirt-sock ] && break; sleep 0.1; done
[ -S /run/libvirt/libvirt-sock ] || die "libvirtd socket"
mark libvirtd

# SAN volumes: a file in tmpfs, a loop device, a dm-linear device named like the SAN's
mkdir -p /san
mount -t tmpfs -o size=90% tmpfs /san
fill_volumes() { # NAME:SIZE_MIB[:BOOT_SECTOR_FILE] ... : filled in parallel, tmpfs is CPU-bound
  local spec pids=() pid
  for spec in "$@"; do node "$LAB_GUEST_DIR/volume-pattern.mjs" fill-files /san "$spec" & pids+=($!); done
  for pid in "${pids[@]}"; do wait "$pid" || die "fill_volumes $*"; done
}
make_volume() { # NAME SIZE_MIB: a filled image if fill_volumes made one, else zeros
  local name="$1" mib="$2" loopdev
  [ -e "/san/$name.img" ] || truncate -s "${mib}M" "/san/$name.img"
  loopdev="$(losetup --find --show "/san/$name.img")" || die "losetup $name"
  # no udev sync per volume (0.7 s each under TCG): one udevadm settle after the last one
  dmsetup create --noudevsync "$name" --table "0 $((mib * 2048)) linear $loopdev 0" || die "dmsetup $name"
}
define_tenant() { virsh -q define "$1" >/dev/null || die "define $1"; }
start_pids=()
start_tenant() { virsh -q start "$1" >/dev/null & start_pids+=($!); }
wait_tenants() {
  local pid
  for pid in "${start_pids[@]}"; do wait "$pid" || die "a tenant did not start"; done
}
# shellcheck source=/dev/null
. "$RUN_DIR/guest-plan.sh"
udevadm settle --timeout=30
mark tenants

touch /run/sanshift-lab-ready
say "ready"
# PID 1 must not exit; bash reaps the orphans it inherits on SIGCHLD while it sleeps
while :; do sleep 60; done
