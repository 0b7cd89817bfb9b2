// The sandbox's DNS server at the gateway, independent of transport: it takes one raw query and
// returns the raw response (or null to stay silent). Blocked names get NXDOMAIN; everything else
// is forwarded raw upstream, so record types and TTLs survive. On the way back:
// - rebinding protection (unless disabled) removes A/AAAA records the egress policy could never
//   let the guest reach; if that leaves no address record the answer becomes NXDOMAIN, as
//   microsandbox and dnsmasq --stop-dns-rebind do, so clients fail fast instead of connecting
//   to something else;
// - a CNAME chain into a blocked domain also becomes NXDOMAIN;
// - the remaining addresses are recorded in ResolvedNames;
// - UDP answers larger than 512 bytes (or the query's EDNS size) are cut to the header, question
//   and OPT record with TC set, so the guest retries over TCP.
import dnsPacket from "dns-packet";
import { normalizeDomain } from "../domain-name.ts";
import type { DomainBlocklist } from "./domain-blocklist.ts";
import type { ResolvedNames } from "./resolved-names.ts";
import type { DnsUpstream } from "./upstream.ts";

export type DnsTransport = "udp" | "tcp";

export const DnsRcode = { noError: 0, formErr: 1, servFail: 2, nxDomain: 3, notImp: 4, refused: 5 } as const;

export interface DnsServerOptions {
  upstream: DnsUpstream;
  blocklist: DomainBlocklist;
  /** Drop address records the policy cannot reach (--no-dns-rebind-protection turns this off). */
  rebindProtection: boolean;
  policy: { mayReach(ip: string, domain?: string | readonly string[]): boolean };
  resolvedNames: ResolvedNames;
}

const HEADER_BYTES = 12;
const CLASSIC_UDP_LIMIT = 512;
const FLAG_RESPONSE = 0x8000;
const FLAG_TRUNCATED = 0x0200;
const FLAG_RECURSION_AVAILABLE = 0x0080;
/** Opcode, RD and CD: the query bits a response copies. */
const COPIED_QUERY_FLAGS = 0x7800 | 0x0100 | 0x0010;
const OPCODE_MASK = 0x7800;

type Message = dnsPacket.DecodedPacket;
type Record = dnsPacket.Answer;

export class DnsServer {
  constructor(private readonly options: DnsServerOptions) {}

  async handleQuery(query: Uint8Array, transport: DnsTransport): Promise<Uint8Array | null> {
    if (query.length < HEADER_BYTES || (query[2]! & 0x80) !== 0) return null;
    const request = decode(query);
    if (request === null) return headerOnlyResponse(query, DnsRcode.formErr);
    if (((request.flags ?? 0) & OPCODE_MASK) !== 0) return headerOnlyResponse(query, DnsRcode.notImp);
    const question = request.questions?.[0];
    if (question === undefined || request.questions!.length !== 1)
      return headerOnlyResponse(query, DnsRcode.formErr);
    const name = normalizeDomain(question.name);
    if (this.options.blocklist.blocks(name)) return synthesize(request, DnsRcode.nxDomain);

    let raw: Uint8Array;
    try {
      raw = await this.options.upstream.exchange(query);
    } catch {
      return synthesize(request, DnsRcode.servFail);
    }
    const response = decode(raw);
    if (response === null || response.id !== request.id || !response.flag_qr) {
      return synthesize(request, DnsRcode.servFail);
    }
    const filtered = this.filter(name, response);
    if (filtered === "nxdomain") return synthesize(request, DnsRcode.nxDomain);
    this.recordAddresses(name, filtered?.answers ?? response.answers ?? []);
    const bytes = filtered === null ? raw : dnsPacket.encode(filtered);
    return fitTo(bytes, request, transport, filtered ?? response);
  }

  /** The response with unreachable address records removed, null if unchanged, or "nxdomain". */
  private filter(name: string, response: Message): Message | "nxdomain" | null {
    const answers = response.answers ?? [];
    const { blocklist, policy, rebindProtection } = this.options;
    if (
      answers.some(
        (record) =>
          blocklist.blocks(record.name) || (record.type === "CNAME" && blocklist.blocks(record.data)),
      )
    ) {
      return "nxdomain";
    }
    if (!rebindProtection) return null;
    const reachable = (record: Record): boolean =>
      !isAddressRecord(record) || policy.mayReach(record.data, [name, normalizeDomain(record.name)]);
    const keptAnswers = answers.filter(reachable);
    const additionals = response.additionals ?? [];
    const keptAdditionals = additionals.filter(reachable);
    if (keptAnswers.length === answers.length && keptAdditionals.length === additionals.length) return null;
    if (answers.some(isAddressRecord) && !keptAnswers.some(isAddressRecord)) return "nxdomain";
    return { ...response, answers: keptAnswers, additionals: keptAdditionals };
  }

  private recordAddresses(name: string, answers: Record[]): void {
    for (const record of answers) {
      if (!isAddressRecord(record)) continue;
      const ttl = record.ttl ?? 0;
      this.options.resolvedNames.record(name, record.data, ttl);
      const owner = normalizeDomain(record.name);
      if (owner !== name) this.options.resolvedNames.record(owner, record.data, ttl);
    }
  }
}

function isAddressRecord(record: Record): record is dnsPacket.StringAnswer {
  return record.type === "A" || record.type === "AAAA";
}

function decode(bytes: Uint8Array): Message | null {
  try {
    return dnsPacket.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch {
    return null;
  }
}

/** A response carrying only the query's question, with `rcode`; always within 512 bytes. */
function synthesize(request: Message, rcode: number): Uint8Array {
  return dnsPacket.encode({
    type: "response",
    id: request.id,
    flags: ((request.flags ?? 0) & COPIED_QUERY_FLAGS) | FLAG_RECURSION_AVAILABLE | rcode,
    questions: request.questions,
  });
}

/** For queries dns-packet cannot decode: echo the id and opcode, no sections. */
function headerOnlyResponse(query: Uint8Array, rcode: number): Uint8Array {
  const flags =
    (((query[2]! << 8) | query[3]!) & COPIED_QUERY_FLAGS) | FLAG_RESPONSE | FLAG_RECURSION_AVAILABLE | rcode;
  return new Uint8Array([query[0]!, query[1]!, flags >>> 8, flags & 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
}

/** Over UDP, a response larger than the client accepts becomes a truncated one with TC set. */
function fitTo(bytes: Uint8Array, request: Message, transport: DnsTransport, response: Message): Uint8Array {
  if (transport === "tcp" || bytes.length <= udpLimit(request)) return bytes;
  return dnsPacket.encode({
    type: "response",
    id: response.id,
    flags: (response.flags ?? 0) | FLAG_TRUNCATED,
    questions: response.questions,
    answers: [],
    authorities: [],
    additionals: (response.additionals ?? []).filter((record) => record.type === "OPT"),
  });
}

/** The query's EDNS UDP payload size (RFC 6891), never below 512. */
function udpLimit(request: Message): number {
  const opt = request.additionals?.find((record) => record.type === "OPT");
  const size = opt !== undefined && "udpPayloadSize" in opt ? opt.udpPayloadSize : CLASSIC_UDP_LIMIT;
  return Math.max(CLASSIC_UDP_LIMIT, size ?? CLASSIC_UDP_LIMIT);
}
