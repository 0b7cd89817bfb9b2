// Which kernel modules the guest loads, in which order. A module's dependencies come from the
// `depends=` entry of its .modinfo section, read from the .ko itself: a kernel unpacked from a
// Debian package has no modules.dep (depmod runs at install time), and this works for both.

/** What the guest needs, in the order that matters beyond dependencies (crc32c before erofs). */
export const GUEST_MODULES = [
  "crc32c_generic",
  "virtio_mmio",
  "virtio_blk",
  "virtio_net",
  "virtio_console",
  "erofs",
  "ext4",
  "overlay",
  "virtiofs",
];

/** The `depends=` list in a module file's bytes (empty when it has none). */
export function moduleDependsOf(ko: Uint8Array): string[] {
  const needle = new TextEncoder().encode("\0depends=");
  const at = indexOf(ko, needle);
  if (at < 0) return [];
  const start = at + needle.length;
  let end = start;
  while (end < ko.length && ko[end] !== 0) end++;
  const text = new TextDecoder().decode(ko.subarray(start, end));
  return text === "" ? [] : text.split(",").map(normalizeModuleName);
}

/** Module names use `_` and `-` interchangeably; files use either. */
export function normalizeModuleName(name: string): string {
  return name.replace(/-/g, "_");
}

/**
 * Dependencies first, each module once, in the order `wanted` names them otherwise. `depends`
 * answers a module's direct dependencies, or null when the kernel has no such module (built in,
 * or absent: either way nothing to load).
 */
export function loadOrder(wanted: string[], depends: (name: string) => string[] | null): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string, chain: string[]) => {
    if (seen.has(name)) return;
    if (chain.includes(name)) throw new Error(`module dependency cycle: ${[...chain, name].join(" -> ")}`);
    const deps = depends(name);
    if (deps === null) return;
    for (const dep of deps) visit(dep, [...chain, name]);
    seen.add(name);
    order.push(name);
  };
  for (const name of wanted) visit(normalizeModuleName(name), []);
  return order;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  const first = needle[0];
  outer: for (let i = haystack.indexOf(first as number); i >= 0 && i <= haystack.length - needle.length; ) {
    for (let j = 1; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) {
        i = haystack.indexOf(first as number, i + 1);
        continue outer;
      }
    }
    return i;
  }
  return -1;
}
