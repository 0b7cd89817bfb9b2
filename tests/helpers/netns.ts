// A network namespace standing in for the guest: a TAP device configured like the guest's eth0
// (guestNetworkConfig), the TAP relay (src/network/tap.ts) joining it to an engine's net.sock,
// and a way to run commands and small Bun scripts "inside the guest". Root only.
import { resolve } from "node:path";
import type { Subprocess } from "bun";
import { guestNetworkConfig, type NetworkPlan } from "../../src/network/plan.ts";

const REPO_ROOT = resolve(import.meta.dir, "../..");
const TAP_NAME = "tap0";

export interface CommandResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export interface GuestNamespace {
  readonly name: string;
  /** Runs `argv` inside the namespace, killing it after `timeoutMs`. */
  exec(argv: string[], timeoutMs?: number): Promise<CommandResult>;
  /** Runs a Bun script (ES module source, cwd = repo root so packages resolve) inside the namespace. */
  runScript(source: string, timeoutMs?: number): Promise<CommandResult>;
  /** Starts the TAP relay to the engine listening on `socketPath`. */
  startRelay(socketPath: string): Subprocess;
  destroy(): Promise<void>;
}

async function run(argv: string[], timeoutMs: number): Promise<CommandResult> {
  const child = Bun.spawn(argv, { cwd: REPO_ROOT, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  clearTimeout(timer);
  return { exitCode, stdout, stderr };
}

async function mustRun(argv: string[]): Promise<void> {
  const result = await run(argv, 10_000);
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")} failed: ${result.stderr.trim()}`);
}

export async function createGuestNamespace(plan: NetworkPlan): Promise<GuestNamespace> {
  const name = `msbtest-${crypto.randomUUID().slice(0, 8)}`;
  const config = guestNetworkConfig(plan);
  const inside = (argv: string[]) => ["ip", "netns", "exec", name, ...argv];
  const relays: Subprocess[] = [];
  await mustRun(["ip", "netns", "add", name]);
  try {
    await mustRun(inside(["ip", "link", "set", "lo", "up"]));
    await mustRun(inside(["ip", "tuntap", "add", "dev", TAP_NAME, "mode", "tap"]));
    await mustRun(inside(["ip", "link", "set", TAP_NAME, "address", config.mac]));
    await mustRun(inside(["ip", "addr", "add", `${config.address}/${config.prefix}`, "dev", TAP_NAME]));
    await mustRun(inside(["ip", "link", "set", TAP_NAME, "up", "mtu", String(config.mtu)]));
    await mustRun(inside(["ip", "route", "add", "default", "via", config.gateway]));
  } catch (error) {
    await run(["ip", "netns", "del", name], 10_000);
    throw error;
  }
  return {
    name,
    exec: (argv, timeoutMs = 30_000) => run(inside(argv), timeoutMs),
    runScript: (source, timeoutMs = 60_000) => run(inside([process.execPath, "-e", source]), timeoutMs),
    startRelay(socketPath) {
      const source = `
        import { openTap, relayTapToStream } from ${JSON.stringify(`${REPO_ROOT}/src/network/tap.ts`)};
        const tap = openTap(${JSON.stringify(TAP_NAME)});
        await relayTapToStream(tap, ${JSON.stringify(socketPath)});
        process.exit(0);
      `;
      const relay = Bun.spawn(inside([process.execPath, "-e", source]), {
        cwd: REPO_ROOT,
        stdout: "inherit",
        stderr: "inherit",
        stdin: "ignore",
      });
      relays.push(relay);
      return relay;
    },
    async destroy() {
      for (const relay of relays) relay.kill("SIGKILL");
      await Promise.all(relays.map((relay) => relay.exited));
      await run(["ip", "netns", "del", name], 10_000);
    },
  };
}
