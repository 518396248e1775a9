/**
 * Replay protection: a correctly signed message sent twice must not run twice. The guard remembers
 * the signatures of recent messages (bounded, oldest forgotten first, as jupyter_client's Session
 * does) and rejects one it has seen. Only messages whose signature was verified are recorded.
 */

/** How many recent signatures are remembered (jupyter_client's default digest history size). */
export const REPLAY_HISTORY = 65536;

/** Remembers recent message signatures. */
export class ReplayGuard {
  readonly #seen = new Set<string>();
  readonly #max: number;

  /** @param max how many signatures to remember. */
  constructor(max = REPLAY_HISTORY) {
    this.#max = max;
  }

  /**
   * Records the signature of a verified message.
   *
   * @param signature the message's HMAC signature (an empty one — no key — is never a replay).
   * @returns false when this signature was seen before (a replay: drop the message).
   */
  accept(signature: string): boolean {
    if (signature === "") return true;
    if (this.#seen.has(signature)) return false;
    this.#seen.add(signature);
    if (this.#seen.size > this.#max) this.#seen.delete(this.#seen.values().next().value as string);
    return true;
  }
}

/** The signature frame of a message's frames (the one after `<IDS|MSG>`), or "" when there is none. */
export function signatureOf(frames: readonly Buffer[]): string {
  const i = frames.findIndex((f) => f.length === 9 && f.toString("latin1") === "<IDS|MSG>");
  return i >= 0 && i + 1 < frames.length ? frames[i + 1].toString("latin1") : "";
}
