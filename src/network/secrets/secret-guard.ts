// The FlowGuard of a sandbox with secrets (see ../intercept/flow-filter.ts): on intercepted TLS
// connections it lets a secret's placeholder become its value only when the secret's hosts
// match the SNI, this sandbox's DNS resolved that name to the destination, and the request's
// Host is that name; everywhere else a placeholder is a violation, handled per
// --secret-violation. Echoed values are masked on their way back. Never logs a value.
import type { SecretViolationAction } from "../../sandbox/spec.ts";
import { normalizeDomain } from "../domain-name.ts";
import type { FlowContext, FlowGuard, StreamFilter } from "../intercept/flow-filter.ts";
import { anyHostMatches, hostHeaderName } from "./host-match.ts";
import { findNeedle } from "./placeholder-forms.ts";
import { RequestFilter } from "./request-filter.ts";
import { absoluteTarget, headerValues, type RequestHead } from "./request-head.ts";
import { ResponseFilter } from "./response-filter.ts";
import { type GuardedSecret, secretNeedles } from "./secret-set.ts";
import { SplitScanner } from "./split-scanner.ts";

export interface SecretGuardOptions {
  secrets: GuardedSecret[];
  action: SecretViolationAction;
  log(line: string): void;
  /** Stops the sandbox (block-and-terminate). */
  terminate(): void;
}

export function createSecretGuard(options: SecretGuardOptions): FlowGuard {
  const needles = secretNeedles(options.secrets);
  let terminating = false;
  const report = (context: FlowContext, secret: string, where: string) => {
    if (options.action === "block") return;
    const verdict = options.action === "block-and-terminate" ? "blocked, stopping the sandbox" : "blocked";
    options.log(
      `secret violation: ${secret}'s placeholder in ${where} to ${destination(context)}: ${verdict}`,
    );
    if (options.action === "block-and-terminate" && !terminating) {
      terminating = true;
      options.terminate();
    }
  };
  return {
    forTls(context) {
      const sni = context.sni === undefined ? undefined : normalizeDomain(context.sni);
      const pinned = sni !== undefined && context.domains.includes(sni);
      const inScope = pinned ? options.secrets.filter((secret) => anyHostMatches(secret.hosts, sni)) : [];
      const request = new RequestFilter({
        needles,
        allowedFor: (head) => (sni !== undefined && hostIs(head, sni) ? inScope : []),
        violation: (secret, where) => report(context, secret, where),
        malformed: (why) => options.log(`cut a connection to ${destination(context)}: ${why}`),
      });
      const response = new ResponseFilter(
        inScope.map((secret) => ({ from: secret.wireValue, to: secret.mask })),
      );
      return {
        request: textFilter(
          (text) => request.push(text),
          () => request.end(),
        ),
        response: textFilter(
          (text) => response.push(text),
          () => response.end(),
        ),
      };
    },
    forPlain(context) {
      const scanner = new SplitScanner(needles);
      const check = (text: string) => {
        const found = scanner.feed(text);
        if (found === undefined) return text;
        report(
          context,
          found.secret,
          context.sni === undefined ? "a plain connection" : "a TLS connection that is not intercepted",
        );
        return null;
      };
      return textFilter(check, () => "");
    },
    allowDatagram(context, payload) {
      const found = findNeedle(latin1(payload), needles);
      if (found) report(context, found.secret, "a UDP datagram");
      return found === undefined;
    },
  };
}

/** The request names `sni` as its server: exactly one Host, equal to it, and no absolute target. */
function hostIs(head: RequestHead, sni: string): boolean {
  const hosts = headerValues(head, "host");
  return hosts.length === 1 && hostHeaderName(hosts[0]!) === sni && !absoluteTarget(head);
}

function destination(context: FlowContext): string {
  const name = context.sni ?? context.domains[0];
  return `${name === undefined ? context.dstIp : `${name} (${context.dstIp})`}:${context.dstPort}`;
}

/** A StreamFilter over latin1 text that stays cut once cut. */
function textFilter(push: (text: string) => string | null, end: () => string | null): StreamFilter {
  let cut = false;
  const wrap = (text: string | null) => {
    if (text === null) cut = true;
    return text === null ? null : Buffer.from(text, "latin1");
  };
  return {
    push: (chunk) => (cut ? null : wrap(push(latin1(chunk)))),
    end: () => (cut ? null : wrap(end())),
  };
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}
