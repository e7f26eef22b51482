/**
 * Codes compiled statements return to the chain evaluator. 0 means "go on with the next
 * statement of this rule"; Break means "this rule does not apply" (a match failed, a
 * limit is over); the rest are verdicts. Jump/goto carry the target chain's index so no
 * object is needed per packet.
 */
export const enum Code {
  Next = 0,
  Accept = 1,
  Drop = 2,
  Return = 3,
  Continue = 4,
  Break = 5,
  /** Jump to chain i: JumpBase + 2*i; goto: JumpBase + 2*i + 1. */
  JumpBase = 8,
}

export function jumpCode(chainIndex: number, isGoto: boolean): number {
  return Code.JumpBase + chainIndex * 2 + (isGoto ? 1 : 0);
}
