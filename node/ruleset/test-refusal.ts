/** Test helper: the RulesetError a call throws (anything else is rethrown; no throw fails). Not used outside tests. */
import { RulesetError } from './errors.js';

export function refusalError(fn: () => unknown): RulesetError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RulesetError) return e;
    throw e;
  }
  throw new Error('expected a RulesetError');
}

/** Its message (where the test reads the place and the reason). */
export const refusal = (fn: () => unknown): string => refusalError(fn).message;
