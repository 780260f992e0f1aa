#!/bin/bash
# Stage 2 of the lab guest, run as PID 1 on the overlay root (the machine's own binaries):
# make it a hypervisor host like a production one (udev, AppArmor, sshd with PAM, virtlogd and
# libvirtd with Debian's packaged configuration, md, dm), then build the SAN volumes and the
# tenants that lab.ts described in its run folder, and say "ready". host.env in the run folder
# says which host this is and how it differs from the stock one (tenants.ts, hostEnv).
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
[ -n "$RUN_DIR" ] && [ -d "$RUN_DIR" ] || die "no run folder (sanshift_lab_run=$RUN_DIR)"
# LAB_HOSTNAME LAB_LIBVIRT (stock|relaxed) LAB_APPARMOR (1|0) LAB_SSH_DELAY_MS
# LAB_SSH_MAX_SESSIONS LAB_SSH_MAX_STARTUPS (empty: sshd's own default)
# shellcheck source=/dev/null
. "$RUN_DIR/host.env" || die "no host.env in $RUN_DIR"
hostname "$LAB_HOSTNAME"
echo "$LAB_HOSTNAME" > /etc/hostname
# no DNS behind restrict=on: libvirt resolves the host name at every domain start, and a
# resolver waiting for a server that never answers costs seconds each time
echo "127.0.1.1 $LAB_HOSTNAME" >> /etc/hosts
rm -f /etc/resolv.conf && : > /etc/resolv.conf

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
mkdir -p /root/.ssh /run/sshd /run/sanshift-lab
chmod 700 /root/.ssh
cp "$LAB_WORK/id_ed25519.pub" /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
ssh-keygen -A >/dev/null 2>&1
# A production host's sessions cost more than the lab's (PAM with logind, auditing, a loaded
# host). root's login shell stands in for that: every session sshd starts (each command, each
# channel of a shared connection, libvirt's virt-ssh-helper) first sleeps the milliseconds in
# /run/sanshift-lab/ssh-session-delay-ms, which lab.ts can change while the lab runs, and
# logs the session to /run/sanshift-lab/sessions.log. The lab's own checks set
# LC_SANSHIFT_LAB_CHECK (AcceptEnv LC_* is stock) and skip both.
echo "${LAB_SSH_DELAY_MS:-0}" > /run/sanshift-lab/ssh-session-delay-ms
cat > /usr/local/sbin/sanshift-lab-login-shell <<'SHELL'
#!/bin/sh
# dash, not bash, and no fork at a delay of 0: the wrapper must cost next to nothing itself
ms=0
read -r ms < /run/sanshift-lab/ssh-session-delay-ms 2>/dev/null
case "$ms" in ''|*[!0-9]*) ms=0 ;; esac
if [ -z "${LC_SANSHIFT_LAB_CHECK:-}" ]; then
  # every session of sanshift's, on the guest's clock (no fork: read and printf are builtins)
  read -r up _ < /proc/uptime
  printf '%s %s\n' "$up" "$*" >> /run/sanshift-lab/sessions.log
  [ "$ms" -gt 0 ] && sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
fi
[ $# -gt 0 ] || exec /bin/bash -l
exec /bin/bash "$@"
SHELL
chmod 755 /usr/local/sbin/sanshift-lab-login-shell
usermod -s /usr/local/sbin/sanshift-lab-login-shell root || die "root's login shell"
# sshd as Debian ships it (/etc/ssh/sshd_config: UsePAM yes, MaxSessions and MaxStartups at
# their defaults 10 and 10:30:100) unless host.env says otherwise. PAM's pam_systemd finds no
# D-Bus here and gives up at once (a production host's logind registers the session instead).
sshd_opts=(-E /var/log/sshd.log)
[ -n "${LAB_SSH_MAX_SESSIONS:-}" ] && sshd_opts+=(-o "MaxSessions=$LAB_SSH_MAX_SESSIONS")
[ -n "${LAB_SSH_MAX_STARTUPS:-}" ] && sshd_opts+=(-o "MaxStartups=$LAB_SSH_MAX_STARTUPS")
/usr/sbin/sshd "${sshd_opts[@]}" || die "sshd"
# how to start it again after lab.cutSsh() killed every sshd (the listener and every session)
printf '%q ' /usr/sbin/sshd "${sshd_opts[@]}" > /run/sanshift-lab/sshd-cmd
mark sshd

# AppArmor, as a Debian host boots it (apparmor.service) before libvirtd: libvirt's profiles,
# from the libvirt-daemon-system package that setup.sh unpacked. libvirtd is confined by its
# profile once it starts, and confines each qemu with a profile virt-aa-helper writes for it.
if [ "$LAB_APPARMOR" = 1 ]; then
  mountpoint -q /sys/kernel/security || mount -t securityfs securityfs /sys/kernel/security || die "securityfs"
  [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] || die "AppArmor is not enabled in the lab kernel"
  cp -r "$LAB_WORK/libvirt-daemon-system/etc/apparmor.d/." /etc/apparmor.d/ || die "libvirt's AppArmor profiles"
  # what the package's postinst creates: empty local overrides
  mkdir -p /etc/apparmor.d/local/abstractions
  for f in local/usr.sbin.libvirtd local/usr.lib.libvirt.virt-aa-helper local/abstractions/libvirt-qemu local/abstractions/libvirt-lxc; do
    [ -e "/etc/apparmor.d/$f" ] || : > "/etc/apparmor.d/$f"
  done
  apparmor_parser -r /etc/apparmor.d/usr.sbin.libvirtd /etc/apparmor.d/usr.lib.libvirt.virt-aa-helper \
    2> /var/log/apparmor-load.log || die "apparmor_parser: $(tail -3 /var/log/apparmor-load.log)"
  mark apparmor
fi

# libvirtd: the users, groups and directories libvirt-daemon-system's postinst makes (qemu
# runs as libvirt-qemu, primary group kvm, also in group libvirt-qemu), then its configuration
mkdir -p /run/libvirt /var/log/libvirt/qemu /var/lib/libvirt/qemu/channel/target /var/lib/libvirt/boot \
  /var/lib/libvirt/images /var/cache/libvirt/qemu /etc/libvirt
getent group libvirt >/dev/null || groupadd -r libvirt
getent group kvm >/dev/null || groupadd -r kvm
getent passwd libvirt-qemu >/dev/null || useradd -r -u 64055 -g kvm -d /var/lib/libvirt -s /usr/sbin/nologin -c "Libvirt Qemu" libvirt-qemu
getent group libvirt-qemu >/dev/null || groupadd -r -g 64055 libvirt-qemu
usermod -a -G libvirt-qemu libvirt-qemu
chown root:root /var/lib/libvirt/images /var/lib/libvirt/boot /var/cache/libvirt /var/cache/libvirt/qemu
chmod 0711 /var/lib/libvirt/images /var/lib/libvirt/boot /var/cache/libvirt /var/cache/libvirt/qemu
chown libvirt-qemu:libvirt-qemu /var/lib/libvirt/qemu /var/lib/libvirt/qemu/channel /var/lib/libvirt/qemu/channel/target
chmod 0750 /var/lib/libvirt/qemu /var/lib/libvirt/qemu/channel /var/lib/libvirt/qemu/channel/target
if [ "$LAB_LIBVIRT" = stock ]; then
  # Debian's files as packaged (qemu.conf sets nothing: qemu as libvirt-qemu, dynamic_ownership,
  # namespaces, the first security driver available, stdio through virtlogd)
  for f in qemu.conf libvirtd.conf virtlogd.conf; do
    cp "$LAB_WORK/libvirt-daemon-system/etc/libvirt/$f" /etc/libvirt/ || die "libvirt-daemon-system's $f"
  done
  chmod 0600 /etc/libvirt/qemu.conf
else
  cp "$RUN_DIR/qemu.conf" /etc/libvirt/qemu.conf
fi
# the one line added to libvirtd.conf: its log to a file (a Debian host sends it to journald)
echo 'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"' >> /etc/libvirt/libvirtd.conf
# probing qemu's capabilities costs about 20 s under TCG: reuse what an earlier boot probed
# (lab.ts saves it; libvirt itself throws it away if qemu or libvirtd changed)
if [ -d "$LAB_WORK/libvirt-capabilities-$LAB_LIBVIRT" ]; then
  mkdir -p /var/cache/libvirt/qemu/capabilities
  cp "$LAB_WORK/libvirt-capabilities-$LAB_LIBVIRT"/*.xml /var/cache/libvirt/qemu/capabilities/ 2>/dev/null
fi
# virtlogd keeps each qemu's stdout and stderr (a Debian host socket-activates it)
virtlogd -d || die "virtlogd"
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
format_volume() { # NAME FSTYPE: the Linux tenant's file system, made on OLD before it first boots
  mkfs."$2" -q -F -L "${1:0:16}" "/dev/mapper/$1" >/dev/null || die "mkfs.$2 $1"
}
install_tenant_boot() { # the Linux tenant boots the lab's own kernel with its own initramfs
  cp "$LAB_WORK/vmlinuz" /var/lib/libvirt/boot/sanshift-lab-vmlinuz || die "tenant kernel"
  cp "$LAB_WORK/tenant-initrd.gz" /var/lib/libvirt/boot/sanshift-lab-tenant-initrd.gz || die "tenant initramfs"
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
