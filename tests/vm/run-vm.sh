#!/usr/bin/env bash
# Boots Debian's stock kernel (package linux-image-amd64: it has kprobes) under
# qemu, runs one command in it as root, powers off and exits with the
# command's exit code. The guest sees this machine's / read-only over 9p, at
# the same paths, /tmp included (writes go to a tmpfs overlay), with the
# kernel's own headers at /lib/modules/$(uname -r)/build, so BCC compiles as
# it would on a real machine running that kernel.
#
# usage: tests/vm/run-vm.sh COMMAND [ARG...]
#   COMMAND runs as root in the guest, in this directory, through
#   tests/vm/guest.sh (which sets the guest up for the tests first).
# env:
#   PIDTREE_VM_KERNEL   guest kernel release (default: the one that
#                       linux-image-amd64 depends on)
#   PIDTREE_VM_TIMEOUT  seconds before the guest is killed (default 840)
#   PIDTREE_VM_SMP, PIDTREE_VM_MEM   vCPUs (default: host CPUs, at most 4),
#                       MiB (default 3072)
#   PIDTREE_VM_ACCEL    tcg (default) or kvm (when /dev/kvm is usable)
# exit: the command's exit code; 124 on timeout; 3 if the guest wrote none;
#       2 if the VM cannot be set up (missing packages: see scripts/setup.sh).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi
if [ "$(id -u)" != 0 ]; then
  echo "run-vm.sh: needs root (9p export of /, files readable only by root)" >&2
  exit 2
fi

die() {
  echo "run-vm.sh: $*" >&2
  exit 2
}

TIMEOUT=${PIDTREE_VM_TIMEOUT:-840}
MEM=${PIDTREE_VM_MEM:-3072}
ACCEL=${PIDTREE_VM_ACCEL:-tcg}
host_cpus=$(nproc)
SMP=${PIDTREE_VM_SMP:-$((host_cpus < 4 ? host_cpus : 4))}

for tool in qemu-system-x86_64 modprobe cpio gzip timeout; do
  command -v "$tool" >/dev/null ||
    die "$tool is missing: run scripts/setup.sh (it installs the VM packages)"
done
BUSYBOX=/bin/busybox
if ! [ -x "$BUSYBOX" ] || ! "$BUSYBOX" --list | grep -x insmod >/dev/null; then
  die "$BUSYBOX (busybox-static) is missing: run scripts/setup.sh"
fi

# ---- the guest kernel: what linux-image-amd64 depends on, with headers ----
KVER=${PIDTREE_VM_KERNEL:-}
if [ -z "$KVER" ]; then
  dep=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null || true)
  KVER=$(sed -n 's/^linux-image-\([^ ,]*\).*/\1/p' <<<"$dep")
  [ -n "$KVER" ] ||
    die "linux-image-amd64 is not installed: run scripts/setup.sh"
fi
[ -f "/boot/vmlinuz-$KVER" ] || die "no /boot/vmlinuz-$KVER"
[ -d "/lib/modules/$KVER/kernel" ] || die "no modules in /lib/modules/$KVER"
[ -e "/lib/modules/$KVER/build/Makefile" ] ||
  die "no headers for $KVER at /lib/modules/$KVER/build: apt-get install" \
    "linux-headers-$KVER (linux-headers-amd64 must match linux-image-amd64)"
if [ "$ACCEL" = kvm ]; then
  ACC=(-accel kvm -cpu host)
else
  ACC=(-accel "tcg,thread=multi" -cpu max)
fi

W=$(mktemp -d /tmp/pidtree-vm.XXXXXX)
chmod 0755 "$W"
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/initramfs"/{bin,dev,proc,sys,mods,lower,rw,newroot} "$W/out"

# ---- the command, run by bash in the guest's root ----
{
  printf 'cd %q || exit 2\n' "$PWD"
  printf 'exec %q' "$HERE/guest.sh"
  printf ' %q' "$@"
  printf '\n'
} >"$W/initramfs/cmd"

# ---- initramfs: static busybox, the modules for 9p and overlay, /init ----
cp "$BUSYBOX" "$W/initramfs/bin/busybox"
modprobe -S "$KVER" --show-depends -a virtio_pci 9pnet_virtio 9p overlay |
  awk '$1 == "insmod" && !seen[$2]++ { print $2 }' >"$W/mods.list"
[ -s "$W/mods.list" ] || die "modprobe found no 9p/overlay modules for $KVER"
while read -r mod; do
  cp "$mod" "$W/initramfs/mods/"
  basename "$mod" >>"$W/initramfs/mods/order"
done <"$W/mods.list"

cat >"$W/initramfs/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m || echo "vm: insmod $m failed"; done
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000,cache=loose root /lower
mount -t tmpfs -o size=1g tmpfs /rw; mkdir -p /rw/up /rw/wk
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/up,workdir=/rw/wk /newroot
R=/newroot
for d in proc sys dev; do mount --move /$d $R/$d; done
mount -t tmpfs tmpfs $R/run
mount -t tracefs tracefs $R/sys/kernel/tracing
mount -t debugfs debugfs $R/sys/kernel/debug
mkdir -p $R/dev/pts $R/dev/shm $R/pidtree-vm-out
mount -t devpts devpts $R/dev/pts; mount -t tmpfs tmpfs $R/dev/shm
mount -t 9p -o trans=virtio,version=9p2000.L out $R/pidtree-vm-out
hostname pidtree-vm
echo "vm: userspace up after $(cut -d' ' -f1 /newroot/proc/uptime) s"
cp /cmd $R/run/pidtree-vm-cmd
chroot $R /bin/bash /run/pidtree-vm-cmd
rc=$?
echo "$rc" > $R/pidtree-vm-out/rc
echo "vm: exit code $rc after $(cut -d' ' -f1 /newroot/proc/uptime) s"
sync; umount $R/pidtree-vm-out
poweroff -f
INIT
chmod +x "$W/initramfs/init"
(cd "$W/initramfs" && find . | cpio -o -H newc --quiet | gzip -1) \
  >"$W/initramfs.cpio.gz"

# ---- boot; the serial console is this script's stdout ----
echo "vm: booting $KVER (accel $ACCEL, $SMP vCPU, $MEM MiB, timeout $TIMEOUT s)"
start=$SECONDS
set +e
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 "${ACC[@]}" -m "$MEM" -smp "$SMP" \
  -machine q35 -nodefaults -no-reboot -display none -monitor none \
  -serial stdio \
  -kernel "/boot/vmlinuz-$KVER" -initrd "$W/initramfs.cpio.gz" \
  -append "console=ttyS0 panic=-1 loglevel=4 rdinit=/init" \
  -virtfs local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path="$W/out",mount_tag=out,security_model=none,multidevs=remap \
  </dev/null | tr -d '\r'
status=("${PIPESTATUS[@]}")
set -e
echo "vm: qemu exited ${status[0]} after $((SECONDS - start)) s"
if [ "${status[0]}" = 124 ]; then
  echo "run-vm.sh: the guest did not finish within $TIMEOUT s" >&2
  exit 124
fi
if [ ! -s "$W/out/rc" ]; then
  echo "run-vm.sh: the guest wrote no exit code (see the console above)" >&2
  exit 3
fi
rc=$(cat "$W/out/rc")
echo "vm: guest command exit code $rc"
exit "$rc"
