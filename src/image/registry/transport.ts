// One authenticated HTTP exchange with a registry: adds credentials the registry asked for,
// answers one 401 challenge, follows redirects (dropping credentials when they leave the
// registry's origin) and turns refusals into MsbErrors. Retrying is the caller's job.
import { MsbError } from "../../errors.ts";
import type { Authenticator } from "./auth.ts";
import { isLoopbackHost, registryBaseUrl } from "./endpoint.ts";
import { fetchOrFail, networkFailure, parseRetryAfter, TransientError } from "./retry.ts";

export interface RegistryRequest {
  /** Normalized registry name, e.g. `docker.io`. */
  registry: string;
  /** Path below `/v2/`: `library/alpine/manifests/latest`, or "" for the API root. */
  path: string;
  /** Token scope, e.g. `repository:library/alpine:pull`; none for the API root. */
  scope?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** What the request is for, as error messages should name it. */
  subject: string;
  /** The error message when the registry refuses even after authentication. */
  deniedMessage?: string;
}

export interface TransportOptions {
  fetch: typeof fetch;
  userAgent: string;
  insecure: boolean;
  authenticator: Authenticator;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

export class RegistryTransport {
  constructor(private readonly options: TransportOptions) {}

  /**
   * Sends a GET and returns the response for any status the caller should judge (2xx, 404, ...).
   * Throws MsbError("permission") for a refusal after authenticating, TransientError for 5xx/429.
   */
  async send(request: RegistryRequest): Promise<Response> {
    const { authenticator, insecure } = this.options;
    const url = new URL(`${registryBaseUrl(request.registry, insecure)}${request.path}`);
    let authorization = await authenticator.authorization(request.registry, request.scope);
    for (let challenged = false; ; challenged = true) {
      const headers: Record<string, string> = { ...request.headers, "User-Agent": this.options.userAgent };
      if (authorization) headers.Authorization = authorization;
      const response = await this.followRedirects(url, headers, request.signal);
      if (response.status === 401 && !challenged) {
        await discard(response);
        const challenge = response.headers.get("www-authenticate");
        authorization = await authenticator.respond(
          request.registry,
          challenge,
          request.scope,
          !!authorization,
        );
        continue;
      }
      if (response.status === 401 || response.status === 403) {
        await discard(response);
        const message =
          request.deniedMessage ??
          `registry ${request.registry} denied access to ${request.subject} (HTTP ${response.status}): ` +
            "it does not exist or needs credentials that allow pulling it";
        throw new MsbError(message, { code: "permission", hint: `msb registry login ${request.registry}` });
      }
      if (response.status === 429 || response.status >= 500) {
        await discard(response);
        throw new TransientError(
          `registry ${request.registry} answered ${response.status} ${response.statusText} for ${request.subject}`,
          { retryAfterMs: parseRetryAfter(response.headers.get("retry-after")) },
        );
      }
      return response;
    }
  }

  private async followRedirects(start: URL, headers: Record<string, string>, signal?: AbortSignal) {
    let url = start;
    let currentHeaders = headers;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const response = await fetchOrFail(this.options.fetch, url, {
        headers: currentHeaders,
        redirect: "manual",
        signal,
      });
      const location = response.headers.get("location");
      if (!REDIRECT_STATUSES.has(response.status) || !location) return response;
      await discard(response);
      const next = new URL(location, url);
      if (
        next.protocol === "http:" &&
        url.protocol === "https:" &&
        !this.options.insecure &&
        !isLoopbackHost(next.host)
      ) {
        throw new MsbError(
          `registry redirected ${url.host} to plain HTTP at ${next.host}; refusing to follow`,
          {
            code: "unavailable",
            hint: "use --insecure only if you trust the network to this registry",
          },
        );
      }
      if (next.origin !== url.origin) {
        const { Authorization: _dropped, ...rest } = currentHeaders;
        currentHeaders = rest;
      }
      url = next;
    }
    throw new MsbError(`too many redirects fetching ${start.pathname} from ${start.host}`, {
      code: "unavailable",
    });
  }
}

/** Final form of a failure that survived the retries: transient ones become "unavailable". */
export function finalRegistryError(error: unknown, attempts: number): unknown {
  if (!(error instanceof TransientError)) return error;
  const tries = attempts > 1 ? ` (tried ${attempts} times)` : "";
  return new MsbError(`${error.message}${tries}`, { code: "unavailable", cause: error.cause });
}

/** Reads a whole response body, refusing bodies over `limit` bytes. */
export async function readLimited(response: Response, limit: number, subject: string, host: string) {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > limit) {
    await discard(response);
    throw new MsbError(`${subject} is ${declared} bytes, more than the ${limit} msb accepts`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body ?? []) {
      total += chunk.length;
      if (total > limit) throw new MsbError(`${subject} is more than the ${limit} bytes msb accepts`);
      chunks.push(chunk);
    }
  } catch (error) {
    throw networkFailure(host, error);
  }
  return Buffer.concat(chunks);
}

export async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}
