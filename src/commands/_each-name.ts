// The loop behind `msb rm a b c` and its kin, kept out of _shared.ts so that cli.ts (which
// imports _shared.ts on every call) does not load the store.
import { MsbError } from "../errors.ts";
import { openStore, type Store } from "../store/store.ts";
import { isDebug } from "../ui/output.ts";
import { renderError } from "../ui/render-error.ts";
import { positionals } from "./_shared.ts";

/**
 * Runs `action` for each name given (`msb rm a b c`): one name's failure is printed and does not
 * stop the others; the exit status is the first failure's.
 */
export async function forEachName(
  args: { _: string[] },
  action: (store: Store, name: string) => Promise<void>,
): Promise<number> {
  const store = openStore();
  let status = 0;
  try {
    for (const name of positionals(args)) {
      try {
        await action(store, name);
      } catch (error) {
        if (!(error instanceof MsbError)) throw error;
        process.stderr.write(renderError(error, isDebug()).text);
        status ||= error.exitCode;
      }
    }
    return status;
  } finally {
    store.close();
  }
}
