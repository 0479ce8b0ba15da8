// How many runs each fast-check property makes: FAST_CHECK_RUNS when it is a
// positive whole number, else 1000 (unset, empty, or anything else: `abc`,
// `0`, `-5`, `1.5`, `1e3`). One parser for every property file, so that a
// typo can neither turn the properties off (0 runs) nor break them (NaN).

export const DEFAULT_RUNS = 1000;

/** A positive decimal integer, surrounding blanks allowed; undefined for anything else. */
function positiveInteger(value: string | undefined): number | undefined {
  const text = value?.trim() ?? '';
  if (!/^[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** The number of runs `value` asks for, or `fallback` when it is unset, empty or not a positive whole number. */
export function parseRuns(value: string | undefined, fallback = DEFAULT_RUNS): number {
  return positiveInteger(value) ?? fallback;
}

let warned = false;

/** FAST_CHECK_RUNS from the environment, by `parseRuns`; says so once on stderr when a value that was set is not used. */
export function fastCheckRuns(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const raw = env.FAST_CHECK_RUNS;
  if (positiveInteger(raw) === undefined && raw !== undefined && raw.trim() !== '' && !warned) {
    warned = true;
    console.warn(`FAST_CHECK_RUNS=${JSON.stringify(raw)} is not a positive whole number; using ${DEFAULT_RUNS}`);
  }
  return parseRuns(raw);
}
