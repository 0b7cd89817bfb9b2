// Resolves the user an exec session runs as (`name`, `uid`, `uid:gid`, `name:group`) through the
// guest's own /etc/passwd and /etc/group, the way container runtimes do: a numeric uid missing
// from passwd is still allowed (gid 0, HOME /), an unknown name is an error.
import { readFileSync } from "node:fs";

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Login name, when passwd knows the uid. */
  name: string | null;
  home: string;
}

export type UserResolution = { ok: true; user: ResolvedUser } | { ok: false; message: string };

const DECIMAL = /^\d+$/;

export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const fields of colonRecords(text)) {
    const [name, , uid, gid, , home, shell] = fields;
    if (!name || !DECIMAL.test(uid ?? "") || !DECIMAL.test(gid ?? "")) continue;
    entries.push({ name, uid: Number(uid), gid: Number(gid), home: home || "/", shell: shell ?? "" });
  }
  return entries;
}

export function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const [name, , gid] of colonRecords(text)) {
    if (name && DECIMAL.test(gid ?? "")) entries.push({ name, gid: Number(gid) });
  }
  return entries;
}

/** Non-empty, non-comment lines split at colons. */
function colonRecords(text: string): string[][] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => line.split(":"));
}

export function resolveUser(spec: string, passwd: PasswdEntry[], groups: GroupEntry[]): UserResolution {
  const colon = spec.indexOf(":");
  const userPart = colon === -1 ? spec : spec.slice(0, colon);
  const groupPart = colon === -1 ? null : spec.slice(colon + 1);
  if (userPart === "" || groupPart === "") return { ok: false, message: `invalid user "${spec}"` };

  let user: ResolvedUser;
  const byName = passwd.find((entry) => entry.name === userPart);
  if (byName) {
    user = { uid: byName.uid, gid: byName.gid, name: byName.name, home: byName.home };
  } else if (DECIMAL.test(userPart)) {
    const uid = Number(userPart);
    const byUid = passwd.find((entry) => entry.uid === uid);
    user = byUid
      ? { uid, gid: byUid.gid, name: byUid.name, home: byUid.home }
      : { uid, gid: 0, name: null, home: "/" };
  } else {
    return { ok: false, message: `user "${userPart}" not found in the sandbox's /etc/passwd` };
  }

  if (groupPart !== null) {
    if (DECIMAL.test(groupPart)) {
      user.gid = Number(groupPart);
    } else {
      const group = groups.find((entry) => entry.name === groupPart);
      if (!group) return { ok: false, message: `group "${groupPart}" not found in the sandbox's /etc/group` };
      user.gid = group.gid;
    }
  }
  return { ok: true, user };
}

/** The user database of the root the agent runs in; a missing file counts as empty. */
export function readUserDb(root = "/"): { passwd: PasswdEntry[]; groups: GroupEntry[] } {
  return {
    passwd: parsePasswd(readOptional(`${root.replace(/\/$/, "")}/etc/passwd`)),
    groups: parseGroup(readOptional(`${root.replace(/\/$/, "")}/etc/group`)),
  };
}

function readOptional(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
