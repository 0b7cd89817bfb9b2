// Checks before anything is created that every host port a sandbox publishes is free, so
// `run`/`create` fail cleanly instead of leaving a sandbox that cannot start. The supervisor
// binds them for real at start; this only turns the common mistake into an early error.
import { ConflictError } from "../errors.ts";
import type { PublishedPort } from "./spec.ts";

export async function ensurePortsFree(ports: readonly PublishedPort[]): Promise<void> {
  for (const port of ports) {
    try {
      if (port.protocol === "tcp") {
        Bun.listen({ hostname: port.bindAddress, port: port.hostPort, socket: { data() {} } }).stop(true);
      } else {
        (await Bun.udpSocket({ hostname: port.bindAddress, port: port.hostPort })).close();
      }
    } catch (error) {
      throw new ConflictError(
        `host port ${port.bindAddress}:${port.hostPort}/${port.protocol} is not available: ${(error as Error).message}`,
        "choose another host port with -p, or stop what is using it",
      );
    }
  }
}
