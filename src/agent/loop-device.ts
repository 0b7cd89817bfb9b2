// Attaches an image file to a free loop device for the namespace backend. The device is set
// to auto-clear: once the filesystem on it is unmounted (or the sandbox's mount namespace
// dies with it) and the last descriptor is closed, the kernel detaches it, so a crashed
// sandbox never leaks loop devices.
import { closeSync, openSync } from "node:fs";
import { SyscallError } from "../errors.ts";
import { ioctl } from "./syscalls.ts";

const LOOP_SET_FD = 0x4c00;
const LOOP_CLR_FD = 0x4c01;
const LOOP_SET_STATUS64 = 0x4c04;
const LOOP_CONFIGURE = 0x4c0a;
const LOOP_CTL_GET_FREE = 0x4c82;

const LO_FLAGS_READ_ONLY = 1;
const LO_FLAGS_AUTOCLEAR = 4;

/** struct loop_info64: lo_flags and lo_file_name offsets, and its size. */
const INFO_FLAGS = 52;
const INFO_FILE_NAME = 56;
const INFO_NAME_BYTES = 64;
const INFO_SIZE = 232;
/** struct loop_config: fd, block_size, then loop_info64, then 64 reserved bytes. */
const CONFIG_INFO = 8;
const CONFIG_SIZE = CONFIG_INFO + INFO_SIZE + 64;

const EBUSY = 16;
const EINVAL = 22;
const ENOTTY = 25;
/** Another process may take the free device between GET_FREE and configuring it. */
const MAX_ATTEMPTS = 16;

export interface LoopDevice {
  /** e.g. /dev/loop3: what to mount. */
  path: string;
  /** Closes the agent's descriptor; the mount keeps the device until it goes away. */
  close(): void;
}

export function attachLoopDevice(file: string, readOnly: boolean): LoopDevice {
  const backing = openSync(file, readOnly ? "r" : "r+");
  const control = openSync("/dev/loop-control", "r+");
  try {
    for (let attempt = 1; ; attempt++) {
      const index = ioctl(control, LOOP_CTL_GET_FREE, null, "/dev/loop-control (LOOP_CTL_GET_FREE)");
      const path = `/dev/loop${index}`;
      const device = openSync(path, readOnly ? "r" : "r+");
      try {
        configure(device, backing, file, readOnly, path);
        return { path, close: () => closeSync(device) };
      } catch (error) {
        closeSync(device);
        const busy = error instanceof SyscallError && error.errno === EBUSY;
        if (!busy || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  } finally {
    closeSync(control);
    closeSync(backing);
  }
}

function configure(device: number, backing: number, file: string, readOnly: boolean, path: string): void {
  const flags = LO_FLAGS_AUTOCLEAR | (readOnly ? LO_FLAGS_READ_ONLY : 0);
  const config = new Uint8Array(CONFIG_SIZE);
  const view = new DataView(config.buffer);
  view.setUint32(0, backing, true);
  view.setUint32(CONFIG_INFO + INFO_FLAGS, flags, true);
  config.set(fileName(file), CONFIG_INFO + INFO_FILE_NAME);
  try {
    ioctl(device, LOOP_CONFIGURE, config, `${path} (LOOP_CONFIGURE ${file})`);
    return;
  } catch (error) {
    // Kernels before 5.8 have no LOOP_CONFIGURE: attach, then set the flags.
    const unsupported = error instanceof SyscallError && (error.errno === EINVAL || error.errno === ENOTTY);
    if (!unsupported) throw error;
  }
  ioctl(device, LOOP_SET_FD, backing, `${path} (LOOP_SET_FD ${file})`);
  const info = config.slice(CONFIG_INFO, CONFIG_INFO + INFO_SIZE);
  try {
    ioctl(device, LOOP_SET_STATUS64, info, `${path} (LOOP_SET_STATUS64 ${file})`);
  } catch (error) {
    // Without auto-clear the device would stay attached after the sandbox: detach it now.
    ioctl(device, LOOP_CLR_FD, null, `${path} (LOOP_CLR_FD)`);
    throw error;
  }
}

/** lo_file_name is informational (losetup shows it): the path, cut to fit with its NUL. */
function fileName(file: string): Uint8Array {
  return Buffer.from(file).subarray(0, INFO_NAME_BYTES - 1);
}
