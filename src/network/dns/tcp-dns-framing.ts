// DNS over TCP (RFC 1035 §4.2.2, RFC 7766): each message is preceded by its length as a 2-byte
// big-endian integer. Used both for the guest's TCP/53 connections and for upstream TCP retries.

/** Splits a TCP byte stream into DNS messages, whatever the chunking. */
export class TcpDnsReader {
  private buffer = new Uint8Array(0);

  push(chunk: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer, 0);
    joined.set(chunk, this.buffer.length);
    const messages: Uint8Array[] = [];
    let offset = 0;
    while (joined.length - offset >= 2) {
      const length = (joined[offset]! << 8) | joined[offset + 1]!;
      if (joined.length - offset - 2 < length) break;
      messages.push(joined.subarray(offset + 2, offset + 2 + length));
      offset += 2 + length;
    }
    this.buffer = joined.slice(offset);
    return messages;
  }
}

export function frameTcpDnsMessage(message: Uint8Array): Uint8Array {
  if (message.length > 0xffff) throw new RangeError(`DNS message of ${message.length} bytes exceeds 65535`);
  const framed = new Uint8Array(2 + message.length);
  framed[0] = message.length >>> 8;
  framed[1] = message.length & 0xff;
  framed.set(message, 2);
  return framed;
}
