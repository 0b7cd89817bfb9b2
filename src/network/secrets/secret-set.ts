// A sandbox's secrets as the guard uses them: each stored SecretSpec joined with the value the
// supervisor received, and the byte forms the filters need (latin1 text: one char per byte).
import { MsbError } from "../../errors.ts";
import type { SecretSpec } from "../../sandbox/spec.ts";
import { type Needle, placeholderForms } from "./placeholder-forms.ts";

export interface GuardedSecret {
  name: string;
  hosts: string[];
  body: boolean;
  placeholder: string;
  /** The real value as sent: its UTF-8 bytes. */
  wireValue: string;
  /** The value as given, for percent-encoding into a query string. */
  value: string;
  /**
   * What an echoed value becomes on its way back to the guest: the placeholder cut or repeated
   * to the value's length, so Content-Length and chunk sizes stay right.
   */
  mask: string;
}

export function guardedSecrets(
  specs: readonly SecretSpec[],
  values: ReadonlyMap<string, string>,
): GuardedSecret[] {
  return specs.map((spec) => {
    const value = values.get(spec.name);
    if (value === undefined) {
      throw new MsbError(`no value was given for secret ${spec.name}`, {
        code: "usage",
        hint: `give it with --secret ${spec.name}=VALUE, or export ${spec.name}`,
      });
    }
    const wireValue = Buffer.from(value, "utf8").toString("latin1");
    return {
      name: spec.name,
      hosts: spec.hosts,
      body: spec.body,
      placeholder: spec.placeholder,
      wireValue,
      value,
      mask: spec.placeholder
        .repeat(Math.ceil(wireValue.length / spec.placeholder.length))
        .slice(0, wireValue.length),
    };
  });
}

export function secretNeedles(secrets: readonly GuardedSecret[]): Needle[] {
  return secrets.flatMap((secret) => placeholderForms(secret.name, secret.placeholder));
}
