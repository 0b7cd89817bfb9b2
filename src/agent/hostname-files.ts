// /etc/hostname and the /etc/hosts entries for the sandbox's name, written after the pivot so
// that symlinks in the image resolve inside the sandbox. The files live in the writable layer.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

const DEFAULT_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

export function writeHostnameFiles(hostname: string): void {
  mkdirSync("/etc", { recursive: true, mode: 0o755 });
  writeFileSync("/etc/hostname", `${hostname}\n`);
  const hosts = existsSync("/etc/hosts") ? readFileSync("/etc/hosts", "utf8") : DEFAULT_HOSTS;
  writeFileSync("/etc/hosts", withHostEntry(hosts, hostname));
}

/** `hosts` with a 127.0.1.1 line for `hostname` unless some line already names it. */
export function withHostEntry(hosts: string, hostname: string): string {
  const named = hosts.split("\n").some((line) => {
    const fields = line.replace(/#.*/, "").trim().split(/\s+/);
    return fields.length > 1 && fields.slice(1).includes(hostname);
  });
  if (named) return hosts;
  const separator = hosts === "" || hosts.endsWith("\n") ? "" : "\n";
  return `${hosts}${separator}127.0.1.1\t${hostname}\n`;
}
