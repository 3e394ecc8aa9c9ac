// Sequential specifications the linearizability checker searches against. A model is pure: `step`
// says whether an op with its observed output is legal in a state and what state follows. States are
// small immutable values with a canonical string form, which the checker memoizes. Not a test file.
import type { CounterInput, MultiInput, OpInput, OpOutput, RegisterInput } from './history.ts';

export interface Model<S> {
  readonly name: string;
  readonly initial: S;
  /**
   * The state after `input` when it returned `output`, or `undefined` when that output is
   * impossible in `state`. `known: false` is an op of unknown outcome taking effect now: it has
   * no output to match, only its effect.
   */
  step(state: S, input: OpInput, output: OpOutput, known: boolean): S | undefined;
  /** Canonical form of a state (equal states, equal strings). */
  key(state: S): string;
}

/** A key's value: `null` while it does not exist. */
export const registerModel: Model<string | null> = {
  name: 'register',
  initial: null,
  step(state, input, output, known) {
    const op = input as RegisterInput;
    if (op.f === 'put') return op.value;
    if (!known) return state;
    return output === state ? state : undefined;
  },
  key: (state) => (state === null ? '∅' : `=${state}`),
};

/** A counter that starts absent and is set to 0 by its first CAS-from-null write (`from: -1`). */
export const counterModel: Model<number | null> = {
  name: 'cas-counter',
  initial: null,
  step(state, input, output, known) {
    const op = input as CounterInput;
    if (op.f === 'read') {
      if (!known) return state;
      return output === state ? state : undefined;
    }
    const current = state ?? -1;
    const applies = current === op.from;
    // An unknown CAS either took effect (only possible when it applies) or was a no-op, and
    // "no-op" is the same as never linearizing it, so here it only takes effect.
    if (!known) return applies ? op.to : undefined;
    if (output !== applies) return undefined;
    return applies ? op.to : state;
  },
  key: (state) => (state === null ? '∅' : String(state)),
};

/** A small map of keys to values (absent keys are missing): what multi-key txns read and write. */
export type MultiState = Readonly<Record<string, string>>;

export const multiKeyModel: Model<MultiState> = {
  name: 'multi-key txn',
  initial: {},
  step(state, input, output, known) {
    const op = input as MultiInput;
    if (known) {
      const seen = (output ?? {}) as Readonly<Record<string, string | null>>;
      for (const k of op.reads) if ((seen[k] ?? null) !== (state[k] ?? null)) return undefined;
    }
    if (Object.keys(op.writes).length === 0) return state;
    return { ...state, ...op.writes };
  },
  key: (state) =>
    Object.keys(state)
      .sort()
      .map((k) => `${k}=${state[k] ?? ''}`)
      .join(';'),
};
