// How msb starts another role of itself (supervisor, agent): the compiled binary runs as
// `msb <role>`; from source (tests, development) Bun needs the entry file too.

export function selfCommand(...args: string[]): string[] {
  const compiled = Bun.main.startsWith("/$bunfs/") || Bun.main === process.execPath;
  return compiled ? [process.execPath, ...args] : [process.execPath, Bun.main, ...args];
}
