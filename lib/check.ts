/**
 * Argument checks shared across the library: each names what it checks in its error message.
 */

/**
 * Checks that `value` is an integer ≥ 1.
 *
 * @param what how the error names the value, e.g. `"batchSize"` or `"option k"`.
 * @returns the value.
 * @throws Error `"<what> must be a positive integer, got <value>"` otherwise.
 */
export function checkPositiveInt(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new Error(`${what} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * Checks that `value` is a finite number > 0.
 *
 * @param what how the error names the value.
 * @returns the value.
 * @throws Error `"<what> must be a positive finite number, got <value>"` otherwise.
 */
export function checkPositiveNumber(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || !(value > 0)) {
    throw new Error(`${what} must be a positive finite number, got ${String(value)}`);
  }
  return value;
}

/**
 * Checks that `value` is an integer (any sign).
 *
 * @param what how the error names the value.
 * @returns the value.
 * @throws Error `"<what> must be an integer, got <value>"` otherwise.
 */
export function checkInteger(what: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new Error(`${what} must be an integer, got ${String(value)}`);
  }
  return value;
}
