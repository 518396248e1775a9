/**
 * The interrupt handshake between the control thread and the main thread, in one shared Int32 cell.
 *
 * An `interrupt_request` is first only marked REQUESTED. The main thread takes it up as soon as it
 * can: a loop guard in cell code (even inside a tight loop) or, when the main thread waits, the
 * control thread's message. Only when nobody took it within SIGNAL_AFTER_MS — the main thread is stuck
 * in synchronous code no guard reaches (a library's loop) — does the control thread send SIGINT,
 * which breaks that code. Signals are slow and, around the end of a script run with `breakOnSigint`,
 * can arrive late or get lost, so they are the fallback, and the state makes sure one request
 * interrupts one cell only — the one running when it came — and that a late signal never interrupts
 * a later cell. A SIGINT nobody announced (Jupyter's `interrupt_mode: "signal"`) finds the state NONE
 * and interrupts whatever runs.
 *
 * States: NONE → REQUESTED (control thread) → NONE (taken up without a signal), or → SIGNALLED
 * (control thread sent SIGINT) → NONE (the signal arrived), or SIGNALLED → HANDLED (a guard took it
 * up first; the signal is still on the way) → NONE (it arrived and is ignored).
 */

const NONE = 0;
const REQUESTED = 1;
const SIGNALLED = 2;
const HANDLED = 3;

/** `Atomics.waitAsync` (Node ≥ 16; typed in TypeScript's ES2024 lib, newer than the one here). */
const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

/** How long the control thread waits for the main thread to take a request up before it signals (ms). */
export const SIGNAL_AFTER_MS = 100;

/** Creates the shared state (all threads get the same buffer). */
export function createInterruptState(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/**
 * Control thread: an interrupt_request arrived. Marks it, waits up to SIGNAL_AFTER_MS for the main
 * thread to take it up, and otherwise calls `signal` (which sends SIGINT). While an earlier request
 * is still under way, a new one adds nothing.
 */
export async function requestInterrupt(state: Int32Array, signal: () => void): Promise<void> {
  // An interrupt already under way (a second click) covers this one: its signal must stay accounted for.
  if (Atomics.compareExchange(state, 0, NONE, REQUESTED) !== NONE) return;
  const waited = waitAsync(state, 0, REQUESTED, SIGNAL_AFTER_MS);
  if (waited.async) {
    // A timer as well: node does not keep its event loop alive for a pending waitAsync.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([waited.value, new Promise((resolve) => (timer = setTimeout(resolve, SIGNAL_AFTER_MS)))]);
    clearTimeout(timer);
  }
  if (Atomics.compareExchange(state, 0, REQUESTED, SIGNALLED) === REQUESTED) signal();
}

/**
 * Main thread (loop guards, the control thread's message): true when a request is waiting that no one
 * took up yet — the caller interrupts the running cell.
 */
export function takeRequest(state: Int32Array): boolean {
  if (Atomics.compareExchange(state, 0, REQUESTED, NONE) === REQUESTED) {
    Atomics.notify(state, 0);
    return true;
  }
  return Atomics.compareExchange(state, 0, SIGNALLED, HANDLED) === SIGNALLED;
}

/**
 * Main thread: a SIGINT arrived (through the process listener, or by breaking synchronous code).
 *
 * @returns false when it is the late signal of a request already taken up (ignore it), true when it
 *   should interrupt the running cell.
 */
export function signalArrived(state: Int32Array): boolean {
  const previous = Atomics.exchange(state, 0, NONE);
  if (previous === REQUESTED) Atomics.notify(state, 0);
  return previous !== HANDLED;
}

/** True while a SIGINT the control thread sent is still on the way. */
export function signalPending(state: Int32Array): boolean {
  const s = Atomics.load(state, 0);
  return s === SIGNALLED || s === HANDLED;
}

/**
 * Drops a request nobody took up (one that came while no cell ran must not interrupt the next), or a
 * signal that never arrived within the grace time.
 */
export function clearInterrupt(state: Int32Array): void {
  Atomics.store(state, 0, NONE);
  Atomics.notify(state, 0);
}
