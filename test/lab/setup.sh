#!/usr/bin/env bash
# Prepare the lab: Debian packages, a Debian kernel with md, the initramfs, libvirt's stock
# host configuration (libvirt-daemon-system, unpacked), an ssh key, the tenant boot sector and
# the Linux tenant's initramfs, all under test/lab/work/. Idempotent: a second run only checks.
set -euo pipefail

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$LAB_DIR/work"
mkdir -p "$WORK"

log() { printf 'lab-setup: %s\n' "$*" >&2; }

# --- Debian packages (apt-get update only when something is missing) ---------------------
PACKAGES=(qemu-system-x86 qemu-utils libvirt-daemon libvirt-clients libvirt-daemon-driver-qemu
  mdadm busybox-static cpio openssh-server openssh-client dmsetup udev kmod binutils
  util-linux iproute2 coreutils gzip apparmor e2fsprogs)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends keeps mdadm from pulling a mail server and an initramfs rebuild
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- the kernel: the current linux-image-amd64 target, unpacked, with a depmod index -------
KPKG="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
if [[ -z "$KPKG" ]]; then
  apt-get update -qq
  KPKG="$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
fi
[[ -n "$KPKG" ]] || { log "cannot find the kernel package behind linux-image-amd64"; exit 1; }
KVER="${KPKG#linux-image-}"
KROOT="$WORK/kernel-$KVER"
if [[ ! -e "$KROOT/.unpacked" ]]; then
  log "fetching $KPKG"
  rm -rf "$KROOT" "$WORK"/debs && mkdir -p "$WORK/debs" "$KROOT"
  (cd "$WORK/debs" && apt-get download -qq -o APT::Sandbox::User=root "$KPKG")
  dpkg -x "$WORK"/debs/"$KPKG"_*.deb "$KROOT"
  # the package ships lib/modules without the modules.dep index that modprobe needs
  depmod -b "$KROOT" "$KVER"
  touch "$KROOT/.unpacked"
  rm -rf "$WORK/debs"
fi
ln -sfn "kernel-$KVER" "$WORK/kernel"
cp -f "$KROOT/boot/vmlinuz-$KVER" "$WORK/vmlinuz"

# --- the initramfs: busybox, the modules to reach the 9p root, and guest/init ---------------
INITRD="$WORK/initrd.gz"
stamp_src=("$LAB_DIR/guest/init" "$LAB_DIR/setup.sh" /bin/busybox "$KROOT/.unpacked")
needs_initrd=0
[[ -e "$INITRD" ]] || needs_initrd=1
for f in "${stamp_src[@]}"; do [[ "$f" -nt "$INITRD" ]] && needs_initrd=1; done
if ((needs_initrd)); then
  log "building the initramfs"
  STAGE="$WORK/initramfs"
  rm -rf "$STAGE" && mkdir -p "$STAGE"/{bin,dev,proc,sys,newroot,lower,rw,modules}
  cp /bin/busybox "$STAGE/bin/busybox"
  cp "$LAB_DIR/guest/init" "$STAGE/init" && chmod 755 "$STAGE/init"
  # modprobe --show-depends gives the insmod order, dependencies first
  : > "$STAGE/modules/order"
  for m in virtio_pci virtio_blk 9p 9pnet_virtio overlay; do
    modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
  done | awk '!seen[$0]++' | while read -r ko; do
    cp "$ko" "$STAGE/modules/"
    basename "$ko" >> "$STAGE/modules/order"
  done
  (cd "$STAGE" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) > "$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"
  rm -rf "$STAGE"
fi

# --- a stock host's libvirt configuration: libvirt-daemon-system of the installed libvirt ----
# Its qemu.conf, libvirtd.conf, virtlogd.conf and AppArmor profiles are what a Debian host runs
# with. The lab guest installs them into its own overlay at boot (guest/boot.sh). Unpacked here
# rather than installed on this machine: the machine's / is every lab guest's root, and the
# package would also enable libvirt's default network in every lab booted from it.
LIBVIRT_VERSION="$(dpkg-query -W -f='${Version}' libvirt-daemon)"
LDS="$WORK/libvirt-daemon-system"
if [[ "$(cat "$LDS/.version" 2>/dev/null)" != "$LIBVIRT_VERSION" ]]; then
  log "fetching libvirt-daemon-system $LIBVIRT_VERSION"
  rm -rf "$LDS" "$WORK/debs" && mkdir -p "$WORK/debs" "$LDS"
  (cd "$WORK/debs" && apt-get download -qq -o APT::Sandbox::User=root "libvirt-daemon-system=$LIBVIRT_VERSION") || {
    apt-get update -qq
    (cd "$WORK/debs" && apt-get download -qq -o APT::Sandbox::User=root "libvirt-daemon-system=$LIBVIRT_VERSION")
  }
  dpkg -x "$WORK"/debs/libvirt-daemon-system_*.deb "$LDS"
  printf '%s\n' "$LIBVIRT_VERSION" > "$LDS/.version"
  rm -rf "$WORK/debs"
fi

# --- the Linux tenant: the lab's kernel again, with an initramfs whose init writes records ---
TENANT_INITRD="$WORK/tenant-initrd.gz"
needs_tenant_initrd=0
[[ -e "$TENANT_INITRD" ]] || needs_tenant_initrd=1
for f in "$LAB_DIR/guest/tenant-init" "$LAB_DIR/setup.sh" /bin/busybox "$KROOT/.unpacked"; do
  [[ "$f" -nt "$TENANT_INITRD" ]] && needs_tenant_initrd=1
done
if ((needs_tenant_initrd)); then
  log "building the Linux tenant's initramfs"
  STAGE="$WORK/tenant-initramfs"
  rm -rf "$STAGE" && mkdir -p "$STAGE"/{bin,dev,proc,sys,run,mnt,modules}
  cp /bin/busybox "$STAGE/bin/busybox"
  cp "$LAB_DIR/guest/tenant-init" "$STAGE/init" && chmod 755 "$STAGE/init"
  : > "$STAGE/modules/order"
  # virtio disks, ext4 (crc32c for its checksums) and the ACPI power button as an input device
  for m in virtio_pci virtio_blk crc32c_generic ext4 button evdev; do
    modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
  done | awk '!seen[$0]++' | while read -r ko; do
    cp "$ko" "$STAGE/modules/"
    basename "$ko" >> "$STAGE/modules/order"
  done
  (cd "$STAGE" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) > "$TENANT_INITRD.tmp"
  mv "$TENANT_INITRD.tmp" "$TENANT_INITRD"
  rm -rf "$STAGE"
fi

# --- the key sanshift and the lab use to reach the guest as root ---------------------------
if [[ ! -e "$WORK/id_ed25519" ]]; then
  ssh-keygen -q -t ed25519 -N '' -C sanshift-lab -f "$WORK/id_ed25519"
fi

# --- the boot sector of a tenant that powers off on an ACPI power-button event -------------
BOOT="$WORK/acpi-poweroff.bin"
if [[ ! -e "$BOOT" || "$LAB_DIR/guest/acpi-poweroff.S" -nt "$BOOT" ]]; then
  as --32 -o "$WORK/acpi-poweroff.o" "$LAB_DIR/guest/acpi-poweroff.S"
  ld -m elf_i386 -Ttext=0x7c00 --oformat=binary -o "$BOOT" "$WORK/acpi-poweroff.o"
  rm -f "$WORK/acpi-poweroff.o"
  [[ "$(stat -c %s "$BOOT")" == 512 ]] || { log "boot sector is not 512 bytes"; exit 1; }
fi

# --- the boot sector of the no-OS tenants: halt, ignore everything ---------------------------
HALT="$WORK/halt.bin"
if [[ ! -e "$HALT" || "$LAB_DIR/guest/halt.S" -nt "$HALT" ]]; then
  as --32 -o "$WORK/halt.o" "$LAB_DIR/guest/halt.S"
  ld -m elf_i386 -Ttext=0x7c00 --oformat=binary -o "$HALT" "$WORK/halt.o"
  rm -f "$WORK/halt.o"
  [[ "$(stat -c %s "$HALT")" == 512 ]] || { log "halt boot sector is not 512 bytes"; exit 1; }
fi

printf '%s\n' "$KVER" > "$WORK/kernel-version"
log "ready: kernel $KVER, work dir $WORK"
