// The initramfs's /init: a few lines of busybox shell that load the guest's modules, find the
// boot disk by its serial, mount it and hand over to the agent with switch_root. The boot disk
// holds the agent and its C runtime (boot-disk.ts); the agent does everything else.
import { GUEST_AGENT_ARGS, GUEST_AGENT_PATH } from "./boot-files.ts";

/** The virtio-blk serial of the read-only boot disk. */
export const BOOT_DISK_SERIAL = "msb-boot";

/** /init for these modules (names in load order, files at /lib/modules/<name>.ko). */
export function initScript(modules: string[]): string {
  const agent = [GUEST_AGENT_PATH, ...GUEST_AGENT_ARGS].join(" ");
  return `#!/bin/busybox sh
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in ${modules.join(" ")}; do
  insmod /lib/modules/$m.ko || echo "msb init: cannot load module $m"
done
fail() { echo "msb init: $1"; reboot -f; }
boot=
tries=0
while [ -z "$boot" ] && [ $tries -lt 200 ]; do
  for disk in /sys/block/vd*; do
    [ "$(cat $disk/serial 2>/dev/null)" = ${BOOT_DISK_SERIAL} ] && boot=/dev/\${disk##*/}
  done
  [ -z "$boot" ] && { tries=$((tries + 1)); usleep 25000; }
done
[ -n "$boot" ] || fail "no boot disk with serial ${BOOT_DISK_SERIAL}"
mkdir -p /newroot
mount -t erofs -o ro "$boot" /newroot || fail "cannot mount the boot disk $boot"
for fs in proc sys dev; do mount --move /$fs /newroot/$fs; done
exec switch_root /newroot ${agent}
`;
}
