/** An error meant for the user: printed as "valkka: <message>" without a stack trace. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
  }
}

/** Prints a result as JSON (for scripts) or as text (for people). */
export function emit(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

let exitCode = 0;

/** A command that finished its output but must still fail (e.g. check found problems). */
export function setExitCode(code: number): void {
  exitCode = code;
}

/** The code set by the last command; resets it for the next run in the same process. */
export function takeExitCode(): number {
  const code = exitCode;
  exitCode = 0;
  return code;
}
