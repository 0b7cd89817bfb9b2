// A checked, typed face over one libkrun context (ffi/libkrun.ts): every call's int32 result is
// checked (negative errno → LibkrunCallError naming the call and the errno), strings and string
// arrays are marshalled to NUL-terminated C, and every buffer handed to C is kept here for the
// context's lifetime, so nothing C may still read can be collected.
import {
  type CStringArray,
  cString,
  cStringArray,
  KRUN,
  type Libkrun,
  type LibkrunGroup,
} from "../../ffi/libkrun.ts";
import { missingGroupMessage } from "../../ffi/loader.ts";
import { errnoName, MsbError } from "../errors.ts";

/** A libkrun call returned a negative errno. */
export class LibkrunCallError extends MsbError {
  readonly call: string;
  readonly errno: number;

  constructor(call: string, errno: number) {
    super(`${call} failed: ${errnoName(errno)} (${errno})`, { code: "runtime", hint: hintFor(errno) });
    this.name = "LibkrunCallError";
    this.call = call;
    this.errno = errno;
  }
}

function hintFor(errno: number): string | undefined {
  if (errno === 2) return "libkrun could not find libkrunfw.so.5 or the context; run msb doctor";
  if (errno === 95 || errno === 38) return "this libkrun build lacks the feature; run msb doctor";
  return undefined;
}

export const LIBKRUN_INSTALL_HINT =
  "install libkrun ≥1.18 built with BLK=1 NET=1 (the distribution's package, or bash scripts/setup.sh), " +
  "or use MSB_VMM=qemu";

/** A non-negative result passes through (ids); a negative one is -errno. */
export function checkResult(call: string, result: number): number {
  if (result < 0) throw new LibkrunCallError(call, -result);
  return result;
}

export class LibkrunContext {
  /** Buffers C holds pointers into until krun_start_enter consumes the context. */
  private readonly keep: (Buffer | Uint8Array | CStringArray)[] = [];

  private constructor(
    private readonly lib: Libkrun,
    readonly id: number,
  ) {}

  /** krun_create_ctx; libkrun ≥1.17 dlopens libkrunfw.so.5 here. */
  static create(lib: Libkrun): LibkrunContext {
    return new LibkrunContext(lib, checkResult("krun_create_ctx", lib.symbols.krun_create_ctx()));
  }

  /** The symbols of an optional group, or an `unavailable` error naming the missing symbol. */
  private group<G extends LibkrunGroup>(group: G): NonNullable<Libkrun["optional"][G]> {
    const symbols = this.lib.optional[group];
    if (symbols === undefined) {
      throw new MsbError(missingGroupMessage(this.lib, group), {
        code: "unavailable",
        hint: LIBKRUN_INSTALL_HINT,
      });
    }
    return symbols as NonNullable<Libkrun["optional"][G]>;
  }

  has(group: LibkrunGroup): boolean {
    return this.lib.optional[group] !== undefined;
  }

  private str(text: string): Buffer {
    const buffer = cString(withoutNul(text));
    this.keep.push(buffer);
    return buffer;
  }

  private strv(items: readonly string[]): BigUint64Array {
    const array = cStringArray(items.map(withoutNul));
    this.keep.push(array);
    return array.pointers;
  }

  /** uint8_t vcpus, uint32_t MiB. */
  setVmConfig(cpus: number, memoryMib: number): void {
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 255) {
      throw new MsbError(`libkrun takes 1 to 255 vCPUs, not ${cpus}`, { code: "usage" });
    }
    check("krun_set_vm_config", this.lib.symbols.krun_set_vm_config(this.id, cpus, memoryMib));
  }

  /**
   * A virtio-fs share (krun_add_virtiofs3, libkrun ≥1.18: the only call with read-only shares,
   * which the boot root needs, so older calls are never used). shm 0: no DAX window.
   */
  addVirtiofs(tag: string, path: string, readOnly: boolean): void {
    const { krun_add_virtiofs3 } = this.group("virtiofs3");
    check("krun_add_virtiofs3", krun_add_virtiofs3(this.id, this.str(tag), this.str(path), 0n, readOnly));
  }

  /**
   * A raw virtio-blk disk, in call order /dev/vda, vdb... `blockId` is libkrun's device id; the
   * guest's virtio-blk serial is NOT this id (libkrun derives it from the file's dev/inode).
   * krun_add_disk3 (≥1.17) with fsync on guest flushes where present, else krun_add_disk2.
   */
  addDisk(blockId: string, path: string, readOnly: boolean): void {
    if (this.has("blockOptions")) {
      const { krun_add_disk3 } = this.group("blockOptions");
      check(
        "krun_add_disk3",
        krun_add_disk3(
          this.id,
          this.str(blockId),
          this.str(path),
          KRUN.diskFormatRaw,
          readOnly,
          false,
          KRUN.syncFull,
        ),
      );
      return;
    }
    const { krun_add_disk2 } = this.group("block");
    check(
      "krun_add_disk2",
      krun_add_disk2(this.id, this.str(blockId), this.str(path), KRUN.diskFormatRaw, readOnly),
    );
  }

  /** No vsock at all, hence no TSI: the guest's only way out is the NIC, if any. */
  disableImplicitVsock(): void {
    check("krun_disable_implicit_vsock", this.group("vsock").krun_disable_implicit_vsock(this.id));
  }

  /**
   * virtio-net over a connected unix stream socket (4-byte big-endian length + frame); the path
   * stays NULL, so libkrun never needs the socket's path. No offload features: frames carry full
   * checksums and stay within the MTU. No DHCP flag: the agent configures eth0 itself.
   */
  addNetUnixStream(fd: number, mac: Uint8Array): void {
    if (mac.length !== 6) throw new MsbError(`a MAC address has 6 bytes, not ${mac.length}`);
    const macBytes = Uint8Array.from(mac);
    this.keep.push(macBytes);
    const { krun_add_net_unixstream } = this.group("net");
    check("krun_add_net_unixstream", krun_add_net_unixstream(this.id, null, fd, macBytes, 0, 0));
  }

  disableImplicitConsole(): void {
    check("krun_disable_implicit_console", this.group("console").krun_disable_implicit_console(this.id));
  }

  /** fds < 0 are "none"; libkrun dups the others inside krun_start_enter. */
  addVirtioConsoleDefault(inFd: number, outFd: number, errFd: number): void {
    const { krun_add_virtio_console_default } = this.group("console");
    check("krun_add_virtio_console_default", krun_add_virtio_console_default(this.id, inFd, outFd, errFd));
  }

  setKernelConsole(name: string): void {
    check("krun_set_kernel_console", this.group("console").krun_set_kernel_console(this.id, this.str(name)));
  }

  /** Returns the console id for addConsolePortInOut. */
  addVirtioConsoleMultiport(): number {
    const { krun_add_virtio_console_multiport } = this.group("consolePorts");
    return checkResult("krun_add_virtio_console_multiport", krun_add_virtio_console_multiport(this.id));
  }

  /** A named port (/sys/class/virtio-ports/*\/name); the fds must stay open until krun_start_enter. */
  addConsolePortInOut(consoleId: number, name: string, inFd: number, outFd: number): void {
    const { krun_add_console_port_inout } = this.group("consolePorts");
    check(
      "krun_add_console_port_inout",
      krun_add_console_port_inout(this.id, consoleId, this.str(name), inFd, outFd),
    );
  }

  /** argv without argv[0]; envp is always given (NULL would copy the host's environment). */
  setExec(path: string, args: readonly string[], env: readonly string[]): void {
    check(
      "krun_set_exec",
      this.lib.symbols.krun_set_exec(this.id, this.str(path), this.strv(args), this.strv(env)),
    );
  }

  /** Returns only when libkrun refuses to start; on success the process exits with the guest. */
  startEnter(): never {
    const result = this.lib.symbols.krun_start_enter(this.id);
    throw new LibkrunCallError("krun_start_enter", result < 0 ? -result : 0);
  }
}

function check(call: string, result: number): void {
  checkResult(call, result);
}

function withoutNul(text: string): string {
  if (text.includes("\0"))
    throw new MsbError(`a libkrun argument contains a NUL byte: ${JSON.stringify(text)}`);
  return text;
}

/**
 * krun_init_log, once per process (a second logger init panics): libkrun's messages, and the
 * guest console when it has no terminal, go to `fd` (libkrun takes ownership of it).
 */
export function initLibkrunLog(lib: Libkrun, fd: number, level: number): void {
  check("krun_init_log", lib.symbols.krun_init_log(fd, level, KRUN.logStyleNever, KRUN.logOptionNoEnv));
}
