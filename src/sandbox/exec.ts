// Runs one command in a running sandbox, attached to this process's stdio, through the
// sandbox's supervisor. The result carries the exit status `msb exec` and `msb run` exit with.
import { connectUnix } from "../protocol/channel-unix.ts";
import type { ExecRequest } from "../protocol/messages.ts";
import type { Store } from "../store/store.ts";
import { runtimeLayout } from "../supervisor/runtime-dir.ts";
import { type AttachIo, type ExitedResult, runAttached } from "./attach.ts";
import { requireSandbox } from "./lifecycle.ts";
import { assertCanDo } from "./state.ts";

export async function execInSandbox(
  store: Store,
  name: string,
  request: ExecRequest,
  io: AttachIo,
): Promise<ExitedResult> {
  const record = await requireSandbox(store, name);
  assertCanDo("exec", record);
  const channel = await connectUnix(runtimeLayout(store.paths, record).controlSocket, { timeoutMs: 5_000 });
  try {
    return await runAttached(channel, request, io);
  } finally {
    channel.close();
  }
}
