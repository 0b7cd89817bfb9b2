// `msb registry login/logout/ls` and pulls from a registry behind htpasswd basic auth: denied
// without credentials (with a hint), wrong password refused at login, the credentials file
// private (0600) and never echoed, and access gone again after logout.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { type PushedImage, platformImage, pushImage } from "../helpers/image-builder.ts";
import { type LocalRegistry, startRegistry } from "../helpers/local-registry.ts";
import {
  describeRun,
  requireMsbBinary,
  runMsb,
  runMsbOk,
  type TempDir,
  tempMsbHome,
} from "../helpers/msb-cli.ts";
import { announceSkip, firstSkipReason, requireDockerRegistry, requireTool } from "../helpers/skip.ts";

const skipReason = announceSkip(
  "registry auth",
  firstSkipReason(requireDockerRegistry(), requireTool("htpasswd", "apt-get install apache2-utils")),
);

const USER = "alice";
const PASSWORD = "correct-horse-battery-staple";

describe.skipIf(skipReason !== undefined)("msb registry login / logout / ls", () => {
  let registry: LocalRegistry;
  let home: TempDir;
  let image: PushedImage;

  beforeAll(async () => {
    requireMsbBinary();
    registry = await startRegistry({ htpasswd: { user: USER, password: PASSWORD } });
    const target = { url: registry.url, auth: { user: USER, password: PASSWORD } };
    image = await pushImage(target, "private/app", "v1", platformImage("amd64"));
    home = await tempMsbHome();
  });

  afterAll(async () => {
    await registry?.stop();
    await home?.remove();
  });

  test("pull without credentials is denied (exit 6) with a login hint", async () => {
    const args = ["pull", image.reference];
    const result = await runMsb(args, { msbHome: home.path });
    expect(result.code, describeRun(args, result)).toBe(6);
    expect(result.stderr.split("\n")[0]).toStartWith("error:");
    expect(result.stderr).toContain("msb registry login");
  });

  test("login with a wrong password is refused (exit 6) and stores nothing", async () => {
    const args = ["registry", "login", registry.host, "-u", USER, "--password-stdin"];
    const result = await runMsb(args, { msbHome: home.path, stdin: "not-the-password\n" });
    expect(result.code, describeRun(args, result)).toBe(6);
    const listed = await runMsbOk(["registry", "ls"], { msbHome: home.path });
    expect(listed.stdout).not.toContain(registry.host);
  });

  test("login with the right password is stored privately", async () => {
    const args = ["registry", "login", registry.host, "-u", USER, "--password-stdin"];
    const result = await runMsb(args, { msbHome: home.path, stdin: `${PASSWORD}\n` });
    expect(result.code, describeRun(args, result)).toBe(0);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
    const credentials = join(home.path, "registries.json");
    expect(existsSync(credentials)).toBe(true);
    expect(statSync(credentials).mode & 0o777).toBe(0o600);
  });

  test("registry ls shows the login but never the password", async () => {
    const result = await runMsbOk(["registry", "ls"], { msbHome: home.path });
    const [header, ...rows] = result.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^REGISTRY\s+USERNAME\s+SOURCE\s*$/);
    expect(rows.some((row) => row.startsWith(registry.host) && row.includes(USER))).toBe(true);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });

  test("pull works after login", async () => {
    const args = ["pull", image.reference];
    const result = await runMsb(args, { msbHome: home.path });
    expect(result.code, describeRun(args, result)).toBe(0);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });

  test("after logout the registry denies the pull again", async () => {
    const logout = await runMsb(["registry", "logout", registry.host], { msbHome: home.path });
    expect(logout.code, describeRun(["registry", "logout", registry.host], logout)).toBe(0);
    const listed = await runMsbOk(["registry", "ls"], { msbHome: home.path });
    expect(listed.stdout).not.toContain(registry.host);
    // -f so the pull has to ask the registry rather than find the image already stored.
    const args = ["pull", "-f", image.reference];
    const result = await runMsb(args, { msbHome: home.path });
    expect(result.code, describeRun(args, result)).toBe(6);
  });
});
