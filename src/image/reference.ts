// Image references with Docker's naming conventions: `alpine` means
// `docker.io/library/alpine:latest`. A reference is plain data (safe to store as JSON); use
// `formatReference` for its canonical text and `referenceTarget` for the manifest to fetch.
import { UsageError } from "../errors.ts";

export interface ImageReference {
  /** Normalized registry name as users write it: `docker.io`, `ghcr.io`, `localhost:5000`. */
  registry: string;
  /** Repository path inside the registry: `library/alpine`. */
  repository: string;
  /** Tag; `latest` when the input named neither a tag nor a digest. */
  tag?: string;
  /** `sha256:<64 hex>` when the input pinned a manifest digest. */
  digest?: string;
}

export const DEFAULT_REGISTRY = "docker.io";

const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);
const DOMAIN =
  /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const MAX_TAG_LENGTH = 128;
const MAX_NAME_LENGTH = 255;
export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

const EXAMPLES = "examples: alpine, alpine:3.20, ghcr.io/owner/app:1.0, localhost:5000/app@sha256:<64 hex>";

/** Parses a user-supplied image reference; throws UsageError naming what is wrong. */
export function parseReference(input: string): ImageReference {
  const invalid = (reason: string) =>
    new UsageError(`invalid image reference "${input}": ${reason}`, EXAMPLES);
  if (input === "") throw invalid("it is empty; expected a name like alpine or ghcr.io/owner/app:tag");
  if (/\s/.test(input)) throw invalid("it contains whitespace");

  let name = input;
  let digest: string | undefined;
  const at = name.indexOf("@");
  if (at >= 0) {
    digest = name.slice(at + 1);
    name = name.slice(0, at);
    if (!DIGEST_PATTERN.test(digest)) {
      throw invalid(`bad digest "${digest}"; a digest is "sha256:" followed by 64 lowercase hex digits`);
    }
  }

  let tag: string | undefined;
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/") && !name.endsWith("]")) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (name.endsWith(":"))
      throw invalid(`"::" is not allowed; a tag follows a single ":", like alpine:3.20`);
    checkTag(tag, invalid);
  }

  if (name === "") throw invalid("the repository name is empty; expected a name like alpine or owner/app");
  if (name.endsWith("/")) throw invalid(`"${name}" ends with "/"; expected a repository like owner/app`);

  const components = name.split("/");
  const first = components[0] ?? "";
  const hasRegistry =
    components.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost");
  const registry = hasRegistry ? normalizeRegistry(first) : DEFAULT_REGISTRY;
  if (hasRegistry && !DOMAIN.test(registry)) {
    throw invalid(
      `bad registry "${first}"; expected a host name with an optional port, like ghcr.io or localhost:5000`,
    );
  }
  const path = hasRegistry ? components.slice(1) : components;
  for (const component of path) checkPathComponent(component, invalid);
  if (registry === DEFAULT_REGISTRY && path.length === 1) path.unshift("library");

  const repository = path.join("/");
  if (registry.length + 1 + repository.length > MAX_NAME_LENGTH) {
    throw invalid(`the name is longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (tag === undefined && digest === undefined) tag = "latest";
  return { registry, repository, ...(tag === undefined ? {} : { tag }), ...(digest ? { digest } : {}) };
}

function checkTag(tag: string, invalid: (reason: string) => UsageError): void {
  if (tag === "") throw invalid(`the tag after ":" is empty; expected a tag like 3.20 or latest`);
  if (tag.length > MAX_TAG_LENGTH) {
    throw invalid(
      `tag "${tag.slice(0, 20)}..." is ${tag.length} characters; a tag has at most ${MAX_TAG_LENGTH}`,
    );
  }
  if (!TAG.test(tag)) {
    throw invalid(
      `bad tag "${tag}"; a tag is letters, digits, "_", "." or "-" and does not start with "." or "-"`,
    );
  }
}

function checkPathComponent(component: string, invalid: (reason: string) => UsageError): void {
  if (component === "") throw invalid(`empty path component; expected a repository like owner/app`);
  if (PATH_COMPONENT.test(component)) return;
  if (PATH_COMPONENT.test(component.toLowerCase())) {
    throw invalid(`repository "${component}" must be lowercase, like ${component.toLowerCase()}`);
  }
  throw invalid(
    `bad repository name "${component}"; use lowercase letters and digits separated by ".", "_", "__" or "-"`,
  );
}

/**
 * Normalizes a registry host as users or config files spell it: lowercase, without scheme or
 * path, with Docker Hub's aliases folded into `docker.io`.
 */
export function normalizeRegistry(host: string): string {
  const bare = host
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")
    .replace(/\/.*$/, "")
    .toLowerCase();
  return DOCKER_HUB_ALIASES.has(bare) ? DEFAULT_REGISTRY : bare;
}

/** Canonical text: `docker.io/library/alpine:latest`, `ghcr.io/o/app:1@sha256:...`. */
export function formatReference(ref: ImageReference): string {
  const tag = ref.tag === undefined ? "" : `:${ref.tag}`;
  const digest = ref.digest === undefined ? "" : `@${ref.digest}`;
  return `${ref.registry}/${ref.repository}${tag}${digest}`;
}

/** What to ask the registry's manifest endpoint for: the digest when pinned, else the tag. */
export function referenceTarget(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? "latest";
}
