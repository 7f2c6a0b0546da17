#!/bin/sh
# Boot an extracted Debian kernel package under QEMU (TCG: nested KVM does
# not boot on these VMs) with the host's root file system, read-only over
# 9p, and run one script in it as root.
#
#   boot.sh KERNEL_ROOT SHARE COMMAND [TIMEOUT_S]
#
# KERNEL_ROOT: the package's files (boot/vmlinuz-*, [usr/]lib/modules/*),
#   as fetch.sh leaves them. SHARE: a host folder mounted read-write at the
#   same path in the guest (results, logs). SCRIPT: run with /bin/sh in the
#   guest; its exit status is this command's. The guest's /tmp is a tmpfs.
# Exit 124 when the guest does not finish in TIMEOUT_S (default 1200).
set -eu
kroot=$(cd "$1" && pwd)
share=$(cd "$2" && pwd)
command=$3
limit=${4:-1200}

vmlinuz=$(ls "$kroot"/boot/vmlinuz-* | head -n1)
rel=${vmlinuz##*/vmlinuz-}
mods=$kroot/lib/modules/$rel
[ -d "$mods" ] || mods=$kroot/usr/lib/modules/$rel
[ -f "$mods/modules.dep" ] || depmod -b "${mods%/lib/modules/*}" "$rel"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
init=$work/initramfs
mkdir -p "$init/bin" "$init/mods" "$init/proc" "$init/sys" "$init/dev" "$init/newroot"
cp /bin/busybox "$init/bin/busybox"

# Modules the guest needs that this kernel builds as modules, each after
# the ones it depends on (modules.dep lists them all, last loaded first).
: >"$init/mods/order"
for want in virtio_pci 9pnet_virtio 9p overlay; do
	line=$(grep -E "/$want\.ko(\.[gx]z|\.zst)?:" "$mods/modules.dep" || true)
	[ -n "$line" ] || continue # built in
	for m in $(echo "$line" | tr -d ':' | awk '{for (i = NF; i > 1; i--) print $i; print $1}'); do
		name=$(basename "$m" | sed -E 's/\.ko(\.[gx]z|\.zst)?$//')
		grep -qx "$name" "$init/mods/order" && continue
		case "$m" in
		*.xz) xz -dc "$mods/$m" >"$init/mods/$name.ko" ;;
		*.gz) gzip -dc "$mods/$m" >"$init/mods/$name.ko" ;;
		*.zst) zstd -qdc "$mods/$m" >"$init/mods/$name.ko" ;;
		*) cp "$mods/$m" "$init/mods/$name.ko" ;;
		esac
		echo "$name" >>"$init/mods/order"
	done
done

cat >"$init/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in \$(cat /mods/order); do insmod /mods/\$m.ko || echo "boot: insmod \$m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro hostroot /newroot || { echo "boot: no host root"; poweroff -f; }
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
# What udev would make: /dev/stdin and the rest (a bash -n /dev/stdin test).
ln -sf /proc/self/fd /newroot/dev/fd
ln -sf /proc/self/fd/0 /newroot/dev/stdin
ln -sf /proc/self/fd/1 /newroot/dev/stdout
ln -sf /proc/self/fd/2 /newroot/dev/stderr
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
mount -t tmpfs tmpfs /newroot/tmp
mount -t tmpfs tmpfs /newroot/run
mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup 2>/dev/null
mkdir -p /newroot$share
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 share /newroot$share || { echo "boot: no share"; poweroff -f; }
echo "boot: \$(uname -r) up"
chroot /newroot /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	TERM=dumb /bin/sh $command
rc=\$?
echo "boot: exit \$rc"
echo \$rc >/newroot$share/.exit
sync
poweroff -f
INIT
chmod +x "$init/init"
(cd "$init" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

rm -f "$share/.exit"
# The guest's status comes back through the share, not QEMU's.
timeout "$limit" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 3G -nographic -no-reboot \
	-kernel "$vmlinuz" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 panic=-1 quiet loglevel=3 nokaslr" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
	-virtfs local,path="$share",mount_tag=share,security_model=passthrough \
	-nic none </dev/null || { rc=$?; [ "$rc" = 124 ] && { echo "boot: $rel timed out after ${limit}s"; exit 124; }; }
[ -f "$share/.exit" ] || { echo "boot: $rel gave no exit status"; exit 125; }
exit "$(cat "$share/.exit")"
