// Host folders (-v) on the qemu VMM: one virtiofsd per share, serving the folder over a
// vhost-user socket that QEMU's vhost-user-fs-device connects to; the guest mounts it by tag as
// on libkrun. The virtiofsd of Debian 12's QEMU (/usr/lib/qemu/virtiofsd, the C one) has no
// read-only mode, so a read-only share runs it in a private mount namespace where the folder is
// bind-mounted read-only over itself: writes fail in the host kernel, whatever the guest does.
import { existsSync } from "node:fs";
import { MsbError } from "../errors.ts";
import { diesWithParent } from "./qemu-launch.ts";
import type { VmShare } from "./vm-spec.ts";

const VIRTIOFSD_CANDIDATES = ["/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd"];
const SOCKET_WAIT_MS = 5_000;

export function findVirtiofsd(): string {
  const found = VIRTIOFSD_CANDIDATES.find((path) => existsSync(path));
  if (found) return found;
  throw new MsbError("host folders (-v) on the qemu VMM need virtiofsd, which was not found", {
    code: "unavailable",
    hint: `install QEMU's (Debian 12: qemu-system-common has ${VIRTIOFSD_CANDIDATES[0]}), or drop -v`,
  });
}

/** Makes the folder read-only in virtiofsd's own mount namespace, then becomes virtiofsd. */
const READ_ONLY_THEN_EXEC = `mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"`;

export function virtiofsdArgv(virtiofsd: string, share: VmShare, socket: string): string[] {
  const daemon = [
    virtiofsd,
    `--socket-path=${socket}`,
    ...["-o", `source=${share.path}`],
    ...["-o", "cache=auto"],
    ...["-o", "xattr"],
  ];
  if (!share.readOnly) return daemon;
  return [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "--",
    "/bin/sh",
    "-c",
    READ_ONLY_THEN_EXEC,
    "msb-virtiofs",
    share.path,
    ...daemon,
  ];
}

export interface RunningShares {
  sockets: string[];
  stop(): void;
}

/** Starts one virtiofsd per share and waits until each listens on its socket. */
export async function startVirtiofsd(
  shares: VmShare[],
  socketFor: (index: number) => string,
  log: number,
): Promise<RunningShares> {
  if (shares.length === 0) return { sockets: [], stop() {} };
  const virtiofsd = findVirtiofsd();
  const children: ReturnType<typeof Bun.spawn>[] = [];
  const stop = () => {
    for (const child of children) child.kill("SIGKILL");
  };
  const sockets = shares.map((_, index) => socketFor(index));
  try {
    for (const [index, share] of shares.entries()) {
      if (!existsSync(share.path)) {
        throw new MsbError(`host folder ${share.path} does not exist`, {
          code: "notFound",
          hint: "create it, or fix the -v source",
        });
      }
      const argv = virtiofsdArgv(virtiofsd, share, sockets[index] as string);
      children.push(Bun.spawn(diesWithParent(argv), { stdin: "ignore", stdout: log, stderr: log }));
    }
    const deadline = Date.now() + SOCKET_WAIT_MS;
    for (const [index, socket] of sockets.entries()) {
      while (!existsSync(socket)) {
        if (children[index]?.exitCode !== null || Date.now() > deadline) {
          throw new MsbError(`virtiofsd for ${shares[index]?.path} did not start; see the sandbox log`);
        }
        await Bun.sleep(10);
      }
    }
    return { sockets, stop };
  } catch (error) {
    stop();
    throw error;
  }
}
