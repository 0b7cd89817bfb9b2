// How the wire parsers report a packet they refuse: a value with a short reason instead of an
// exception, because malformed guest input is routine and the hot path should not unwind.

/** A refused packet and why, phrased for a debug log line ("ipv4: bad header checksum"). */
export interface Drop {
  readonly drop: string;
}

export type Parsed<T> = T | Drop;

export function isDrop(value: object): value is Drop {
  return "drop" in value;
}

export function drop(reason: string): Drop {
  return { drop: reason };
}
