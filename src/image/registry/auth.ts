// Registry authentication: parses WWW-Authenticate challenges, fetches Bearer tokens from the
// realm (anonymously or with Basic credentials) and caches them per registry and scope, so a
// pull of many layers asks for one token, not one per request.
import { MsbError } from "../../errors.ts";
import { fetchOrFail, TransientError } from "./retry.ts";
import type { RegistryCredentials } from "./types.ts";

export interface AuthChallenge {
  /** Lowercase scheme: `bearer`, `basic`, ... */
  scheme: string;
  /** Parameters with lowercase keys: realm, service, scope, error. */
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const PARAM_START = /[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*=[ \t]*/y;
const QUOTED = /"((?:[^"\\]|\\.)*)"/y;
const SEPARATORS = /[ \t,]*/y;

/** Parses a WWW-Authenticate header, which may hold several challenges (RFC 7235). */
export function parseAuthChallenges(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let position = 0;
  const match = (pattern: RegExp) => {
    pattern.lastIndex = position;
    const found = pattern.exec(header);
    if (found) position = pattern.lastIndex;
    return found;
  };
  while (position < header.length) {
    match(SEPARATORS);
    const scheme = match(TOKEN);
    if (!scheme) break;
    const params: Record<string, string> = {};
    challenges.push({ scheme: scheme[0].toLowerCase(), params });
    for (;;) {
      const start = match(PARAM_START);
      if (!start) break;
      const quoted = match(QUOTED);
      const value = quoted ? (quoted[1] ?? "").replace(/\\(.)/g, "$1") : (match(TOKEN)?.[0] ?? "");
      params[(start[1] ?? "").toLowerCase()] = value;
      match(/[ \t]*/y);
      if (header[position] !== ",") break;
      position++;
    }
  }
  return challenges;
}

export interface AuthenticatorOptions {
  fetch: typeof fetch;
  userAgent: string;
  credentials: (registry: string) => RegistryCredentials | undefined;
  now?: () => number;
}

interface CachedToken {
  value: Promise<string>;
  expiresAt: number;
}

/** Tokens live 60 s unless the server says otherwise; renew a little early. */
const DEFAULT_TOKEN_LIFETIME_S = 60;
const EXPIRY_MARGIN_MS = 10_000;

export class Authenticator {
  private readonly challenges = new Map<string, AuthChallenge>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly now: () => number;

  constructor(private readonly options: AuthenticatorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The Authorization header for a request, if the registry challenged msb before. */
  async authorization(registry: string, scope: string | undefined): Promise<string | undefined> {
    const challenge = this.challenges.get(registry);
    return challenge ? this.answer(registry, challenge, scope) : undefined;
  }

  /**
   * Answers a 401: remembers the registry's challenge and returns the Authorization header to
   * retry with. `stale` drops the cached token first (the server just refused it).
   */
  async respond(registry: string, header: string | null, scope: string | undefined, stale: boolean) {
    const challenges = parseAuthChallenges(header ?? "");
    const challenge =
      challenges.find((candidate) => candidate.scheme === "bearer" && candidate.params.realm) ??
      challenges.find((candidate) => candidate.scheme === "basic");
    if (!challenge) {
      throw new MsbError(
        `registry ${registry} asked for an unsupported authentication: ${header ?? "(none)"}`,
        {
          code: "permission",
        },
      );
    }
    const { scope: challengeScope, error: _error, ...shared } = challenge.params;
    this.challenges.set(registry, { scheme: challenge.scheme, params: shared });
    const effectiveScope = challengeScope ?? scope;
    if (stale) this.tokens.delete(tokenKey(registry, effectiveScope));
    return this.answer(registry, challenge, effectiveScope);
  }

  private answer(registry: string, challenge: AuthChallenge, scope: string | undefined): Promise<string> {
    const credentials = this.options.credentials(registry);
    if (challenge.scheme === "basic") {
      if (!credentials) {
        throw new MsbError(`registry ${registry} requires a login`, {
          code: "permission",
          hint: `msb registry login ${registry}`,
        });
      }
      return Promise.resolve(basicAuthorization(credentials));
    }
    const key = tokenKey(registry, scope);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > this.now()) return cached.value;
    const entry: CachedToken = { value: Promise.resolve(""), expiresAt: Number.POSITIVE_INFINITY };
    entry.value = this.fetchToken(registry, challenge, scope, credentials).then(
      ({ token, lifetimeS }) => {
        entry.expiresAt = this.now() + lifetimeS * 1000 - EXPIRY_MARGIN_MS;
        return `Bearer ${token}`;
      },
      (error) => {
        if (this.tokens.get(key) === entry) this.tokens.delete(key);
        throw error;
      },
    );
    this.tokens.set(key, entry);
    return entry.value;
  }

  private async fetchToken(
    registry: string,
    challenge: AuthChallenge,
    scope: string | undefined,
    credentials: RegistryCredentials | undefined,
  ): Promise<{ token: string; lifetimeS: number }> {
    const url = URL.parse(challenge.params.realm ?? "");
    if (!url || !/^https?:$/.test(url.protocol)) {
      throw new MsbError(`registry ${registry} sent an invalid token realm: ${challenge.params.realm}`);
    }
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    for (const part of scope?.split(" ") ?? []) if (part) url.searchParams.append("scope", part);
    const headers: Record<string, string> = { "User-Agent": this.options.userAgent };
    if (credentials) headers.Authorization = basicAuthorization(credentials);
    const response = await fetchOrFail(this.options.fetch, url, { headers });
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new MsbError(
        credentials
          ? `registry ${registry} rejected the credentials of ${credentials.username}`
          : `registry ${registry} refused anonymous access`,
        { code: "permission", hint: `msb registry login ${registry}` },
      );
    }
    if (response.status >= 500 || response.status === 429) {
      await response.body?.cancel();
      throw new TransientError(`token service ${url.host} answered ${response.status}`);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new MsbError(`token service ${url.host} answered ${response.status} for ${registry}`);
    }
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    const token = typeof body.token === "string" && body.token ? body.token : body.access_token;
    if (typeof token !== "string" || !token) {
      throw new MsbError(`token service ${url.host} returned no token for ${registry}`);
    }
    const lifetimeS = typeof body.expires_in === "number" ? body.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    return { token, lifetimeS: Math.max(lifetimeS, DEFAULT_TOKEN_LIFETIME_S) };
  }
}

export function basicAuthorization(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
}

function tokenKey(registry: string, scope: string | undefined): string {
  return `${registry} ${scope ?? ""}`;
}
