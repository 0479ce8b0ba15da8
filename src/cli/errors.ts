// The CLI's error values. Only src/cli/main.ts catches; everything else throws
// one of these (or returns typed results).

/** A user-facing failure with an exit code; `message` names the thing, the cause and the way out. */
export class ExitError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
