// msb registry <login|logout|ls>: credentials for private registries.
import { defineCommand } from "citty";
import { UsageError } from "../errors.ts";
import { listRegistries, loginRegistry, logoutRegistry } from "../image/registry-login.ts";
import { msbPaths } from "../paths.ts";
import { renderTable } from "../ui/format.ts";
import { print, success, warn } from "../ui/output.ts";
import { promptSecret, readAllStdin } from "../ui/prompt.ts";
import { quietArgs } from "./_shared.ts";

const login = defineCommand({
  meta: { name: "login", description: "Store credentials for a registry (verified first)" },
  args: {
    host: {
      type: "positional",
      required: true,
      description: "Registry host, e.g. ghcr.io or 127.0.0.1:5000",
    },
    username: { type: "string", alias: "u", description: "User name", required: true },
    passwordStdin: { type: "boolean", description: "Read the password or token from stdin" },
    insecure: { type: "boolean", description: "Allow plain HTTP for this registry" },
    ...quietArgs,
  },
  async run({ args }) {
    const password = args.passwordStdin
      ? (await readAllStdin()).replace(/\r?\n$/, "")
      : await promptSecret("Password/token: ");
    if (password === "")
      throw new UsageError("the password is empty", "pass it on stdin with --password-stdin");
    await loginRegistry(msbPaths(), args.host, args.username, password, { insecure: args.insecure });
    success("Logged in", args.host);
  },
});

const logout = defineCommand({
  meta: { name: "logout", description: "Forget the stored credentials of a registry" },
  args: { host: { type: "positional", required: true, description: "Registry host" }, ...quietArgs },
  run({ args }) {
    if (logoutRegistry(msbPaths(), args.host)) success("Logged out", args.host);
    else warn(`no stored registry credentials found for \`${args.host}\``);
  },
});

const ls = defineCommand({
  meta: { name: "ls", description: "List registries with stored credentials" },
  args: { ...quietArgs },
  run() {
    const entries = listRegistries(msbPaths());
    if (entries.length === 0) {
      print("No registries configured.");
      return;
    }
    print(
      renderTable(
        ["REGISTRY", "USERNAME", "SOURCE"],
        entries.map((entry) => [entry.registry, entry.username, entry.source]),
      ),
    );
  },
});

export default defineCommand({
  meta: { name: "registry", description: "Manage registry credentials" },
  subCommands: { login, logout, ls },
});
