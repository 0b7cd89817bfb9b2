// Resolving `--user` specs against a guest's passwd and group files, and the execute-permission
// rule used before spawning.
import { describe, expect, test } from "bun:test";
import { canExecute } from "../../src/agent/exec-command.ts";
import { parseGroup, parsePasswd, resolveUser } from "../../src/agent/user-db.ts";

const passwd = parsePasswd(
  [
    "root:x:0:0:root:/root:/bin/sh",
    "# a comment",
    "",
    "app:x:1000:1000:App:/home/app:/bin/bash",
    "nohome:x:1001:1001::",
    "broken:x:notanumber:1:::",
  ].join("\n"),
);
const groups = parseGroup(["root:x:0:", "app:x:1000:", "staff:x:50:app,root"].join("\n"));

describe("parsePasswd / parseGroup", () => {
  test("keep valid records, skip comments and malformed lines, default HOME to /", () => {
    expect(passwd.map((entry) => entry.name)).toEqual(["root", "app", "nohome"]);
    expect(passwd[2]).toEqual({ name: "nohome", uid: 1001, gid: 1001, home: "/", shell: "" });
    expect(groups).toEqual([
      { name: "root", gid: 0 },
      { name: "app", gid: 1000 },
      { name: "staff", gid: 50 },
    ]);
  });
});

describe("resolveUser", () => {
  test("a name gives its uid, primary gid and home", () => {
    expect(resolveUser("app", passwd, groups)).toEqual({
      ok: true,
      user: { uid: 1000, gid: 1000, name: "app", home: "/home/app" },
    });
  });

  test("a known uid is looked up; an unknown uid runs with gid 0 and HOME /", () => {
    expect(resolveUser("1000", passwd, groups)).toMatchObject({ ok: true, user: { name: "app", gid: 1000 } });
    expect(resolveUser("4242", passwd, groups)).toEqual({
      ok: true,
      user: { uid: 4242, gid: 0, name: null, home: "/" },
    });
  });

  test("uid:gid and name:group override the group", () => {
    expect(resolveUser("1000:50", passwd, groups)).toMatchObject({ ok: true, user: { uid: 1000, gid: 50 } });
    expect(resolveUser("app:staff", passwd, groups)).toMatchObject({
      ok: true,
      user: { uid: 1000, gid: 50 },
    });
  });

  test("unknown names and groups, and empty parts, are errors naming them", () => {
    expect(resolveUser("ghost", passwd, groups)).toEqual({
      ok: false,
      message: `user "ghost" not found in the sandbox's /etc/passwd`,
    });
    expect(resolveUser("app:ghosts", passwd, groups)).toMatchObject({
      ok: false,
      message: expect.stringContaining(`group "ghosts"`),
    });
    expect(resolveUser("app:", passwd, groups).ok).toBe(false);
    expect(resolveUser(":0", passwd, groups).ok).toBe(false);
  });
});

describe("canExecute", () => {
  const file = { mode: 0o100750, uid: 1000, gid: 50 };
  test("root needs any execute bit; others need the bit of their class", () => {
    expect(canExecute(file, { uid: 0, gid: 0 })).toBe(true);
    expect(canExecute({ ...file, mode: 0o100644 }, { uid: 0, gid: 0 })).toBe(false);
    expect(canExecute(file, { uid: 1000, gid: 1 })).toBe(true);
    expect(canExecute(file, { uid: 7, gid: 50 })).toBe(true);
    expect(canExecute(file, { uid: 7, gid: 7 })).toBe(false);
    expect(canExecute({ ...file, mode: 0o100041 }, { uid: 1000, gid: 50 })).toBe(false);
  });
});
