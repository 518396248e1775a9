/**
 * Time budgets of the GPU kit's check: each part runs under its own deadline (never past the whole
 * check's), prints a header and a closing line as it goes, and is skipped with a clear line when
 * the time is spent or something it needs is missing. A part that throws is reported and the
 * check goes on with the next.
 */
import { writeSync } from "node:fs";

/** How a part ended. */
export interface PartOutcome<T> {
  /** "done", "skipped" (not started: no time or a missing prerequisite) or "failed" (threw). */
  status: "done" | "skipped" | "failed";
  /** Seconds the part ran (0 when skipped). */
  seconds: number;
  /** What the part returned, when done. */
  result?: T;
  /** Why it was skipped or how it failed. */
  reason?: string;
}

/**
 * Where the check's own lines go: the file descriptor in `FSAM_KIT_FD` (the launcher's pipe, kept
 * apart from stdout, where Dawn prints every WebGPU error), else stdout.
 */
const logFd = Number(process.env.FSAM_KIT_FD) || 1;

/** Writes one line of the check's running log (synchronously, so it survives a crash or exit). */
export function say(line = ""): void {
  writeSync(logFd, `${line}\n`);
}

/** Seconds with one decimal. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

/** Thrown inside a part when its deadline passes between two units of work. */
export class BudgetSpent extends Error {
  constructor(what: string) {
    super(`time budget spent before ${what}`);
    this.name = "BudgetSpent";
  }
}

/** Throws {@link BudgetSpent} when `deadline` (epoch ms) has passed. */
export function checkDeadline(deadline: number, what: string): void {
  if (Date.now() >= deadline) throw new BudgetSpent(what);
}

/**
 * Runs one part of the check under a deadline of `budgetS` seconds from now, capped at
 * `hardDeadline` (epoch ms). Skips it (printing why) when `unmet` names a missing prerequisite or
 * when fewer than `minS` seconds are left.
 *
 * @param run does the work; receives the part's deadline in epoch ms.
 */
export async function runPart<T>(
  name: string,
  options: { budgetS: number; hardDeadline: number; minS?: number; unmet?: string },
  run: (deadline: number) => Promise<T>,
): Promise<PartOutcome<T>> {
  const start = Date.now();
  const deadline = Math.min(start + options.budgetS * 1000, options.hardDeadline);
  const leftS = (deadline - start) / 1000;
  say();
  if (options.unmet !== undefined) {
    say(`== ${name}: SKIPPED (${options.unmet})`);
    return { status: "skipped", seconds: 0, reason: options.unmet };
  }
  if (leftS < (options.minS ?? 1)) {
    const reason = `time budget spent: ${Math.max(0, leftS).toFixed(1)} s left, needs at least ${options.minS ?? 1} s`;
    say(`== ${name}: SKIPPED (${reason})`);
    return { status: "skipped", seconds: 0, reason };
  }
  say(`== ${name} (budget ${leftS.toFixed(0)} s) ==`);
  try {
    const result = await run(deadline);
    const ms = Date.now() - start;
    say(`-- ${name}: done in ${seconds(ms)} s`);
    return { status: "done", seconds: ms / 1000, result };
  } catch (error) {
    const ms = Date.now() - start;
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    say(`-- ${name}: FAILED after ${seconds(ms)} s: ${reason}`);
    return { status: "failed", seconds: ms / 1000, reason };
  }
}
