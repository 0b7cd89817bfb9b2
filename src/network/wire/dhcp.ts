// The BOOTP/DHCP message codec (RFC 2131, options RFC 2132). Option parsing is bounded (every
// length is checked against the buffer, the classic bootp CVE class); repeated options are
// concatenated (RFC 3396). Option overload into sname/file is not supported and is ignored.
import { drop, type Parsed } from "./drop.ts";

export const DhcpOp = { request: 1, reply: 2 } as const;

export const DhcpMessageType = {
  discover: 1,
  offer: 2,
  request: 3,
  decline: 4,
  ack: 5,
  nak: 6,
  release: 7,
  inform: 8,
} as const;

export const DhcpOption = {
  pad: 0,
  subnetMask: 1,
  router: 3,
  dnsServers: 6,
  interfaceMtu: 26,
  requestedAddress: 50,
  leaseTime: 51,
  messageType: 53,
  serverId: 54,
  rapidCommit: 80,
  end: 255,
} as const;

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
/** The broadcast bit of the flags field: the client cannot receive unicast before it has an address. */
export const DHCP_FLAG_BROADCAST = 0x8000;

const MAGIC_COOKIE = 0x63825363;
const FIXED_BYTES = 236;
const OPTIONS_OFFSET = FIXED_BYTES + 4;
/** RFC 1542: some clients ignore BOOTP messages shorter than 300 bytes. */
const MIN_MESSAGE_BYTES = 300;
const HARDWARE_ETHERNET = 1;

export interface DhcpMessage {
  op: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: Uint8Array;
  yiaddr: Uint8Array;
  siaddr: Uint8Array;
  giaddr: Uint8Array;
  /** The client's 6-byte MAC address (the first 6 bytes of chaddr). */
  chaddr: Uint8Array;
  /** Option code → data, in the order first seen. */
  options: Map<number, Uint8Array>;
}

export function parseDhcp(bytes: Uint8Array): Parsed<DhcpMessage> {
  if (bytes.length < OPTIONS_OFFSET) return drop("dhcp: message too short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[1] !== HARDWARE_ETHERNET || bytes[2] !== 6) return drop("dhcp: hardware is not Ethernet");
  if (view.getUint32(FIXED_BYTES) !== MAGIC_COOKIE) return drop("dhcp: no magic cookie");
  const options = new Map<number, Uint8Array>();
  let offset = OPTIONS_OFFSET;
  while (offset < bytes.length) {
    const code = bytes[offset]!;
    if (code === DhcpOption.end) break;
    if (code === DhcpOption.pad) {
      offset += 1;
      continue;
    }
    if (offset + 1 >= bytes.length) return drop("dhcp: option without a length");
    const length = bytes[offset + 1]!;
    if (offset + 2 + length > bytes.length) return drop("dhcp: option runs past the message");
    const data = bytes.subarray(offset + 2, offset + 2 + length);
    const earlier = options.get(code);
    options.set(code, earlier === undefined ? data : concat(earlier, data));
    offset += 2 + length;
  }
  return {
    op: bytes[0]!,
    xid: view.getUint32(4),
    secs: view.getUint16(8),
    flags: view.getUint16(10),
    ciaddr: bytes.subarray(12, 16),
    yiaddr: bytes.subarray(16, 20),
    siaddr: bytes.subarray(20, 24),
    giaddr: bytes.subarray(24, 28),
    chaddr: bytes.subarray(28, 34),
    options,
  };
}

/** Builds a message with the options in map order, then END, padded to the 300-byte minimum. */
export function buildDhcp(message: DhcpMessage): Uint8Array {
  let optionBytes = 0;
  for (const data of message.options.values()) optionBytes += 2 + data.length;
  const bytes = new Uint8Array(Math.max(MIN_MESSAGE_BYTES, OPTIONS_OFFSET + optionBytes + 1));
  const view = new DataView(bytes.buffer);
  bytes[0] = message.op;
  bytes[1] = HARDWARE_ETHERNET;
  bytes[2] = 6;
  view.setUint32(4, message.xid);
  view.setUint16(8, message.secs);
  view.setUint16(10, message.flags);
  bytes.set(message.ciaddr, 12);
  bytes.set(message.yiaddr, 16);
  bytes.set(message.siaddr, 20);
  bytes.set(message.giaddr, 24);
  bytes.set(message.chaddr, 28);
  view.setUint32(FIXED_BYTES, MAGIC_COOKIE);
  let offset = OPTIONS_OFFSET;
  for (const [code, data] of message.options) {
    if (data.length > 255) throw new RangeError(`DHCP option ${code} of ${data.length} bytes exceeds 255`);
    bytes[offset] = code;
    bytes[offset + 1] = data.length;
    bytes.set(data, offset + 2);
    offset += 2 + data.length;
  }
  bytes[offset] = DhcpOption.end;
  return bytes;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a, 0);
  joined.set(b, a.length);
  return joined;
}
