/**
 * Learning-rate schedules: linear warm-up followed by a constant, linear or polynomial decay.
 *
 * These are the schedules of Hugging Face `transformers` (`get_linear_schedule_with_warmup`,
 * `get_polynomial_decay_schedule_with_warmup`, `get_constant_schedule_with_warmup`), which the FSAM
 * authors' GLUE scripts use with a 6 % warm-up.
 */
import { checkPositiveInt, checkPositiveNumber } from "../check.ts";

/** The shape of the decay after warm-up. */
export type ScheduleKind = "constant" | "linear" | "polynomial";

/** A learning-rate schedule: a kind name, or the polynomial decay with its power and end rate. */
export type ScheduleSpec =
  | ScheduleKind
  | {
      /** Shape of the decay after warm-up. */
      kind: ScheduleKind;
      /** Exponent of the polynomial decay (1 is linear). Default 1. */
      power?: number;
      /** Learning rate reached at the last step by the polynomial decay. Default 1e-7 (as HF). */
      endLr?: number;
    };

/** Everything needed to compute the learning rate at a step. */
export interface LearningRateSchedule {
  /** Peak learning rate, reached at the end of warm-up. */
  peakLr: number;
  /** Number of warm-up steps (the rate rises linearly from 0 to `peakLr`). */
  warmupSteps: number;
  /** Total number of optimisation steps. */
  totalSteps: number;
  /** Decay shape after warm-up. */
  kind: ScheduleKind;
  /** Polynomial power (1 for linear). */
  power: number;
  /** Final learning rate of the polynomial decay (the linear decay ends at 0). */
  endLr: number;
}

/**
 * Builds a schedule from a spec, a peak rate, the total step count and the warm-up ratio
 * (warm-up steps = ceil(ratio · totalSteps), as HF's `get_warmup_steps`). Throws on bad values,
 * naming the option.
 */
export function makeSchedule(
  spec: ScheduleSpec,
  peakLr: number,
  totalSteps: number,
  warmupRatio: number,
): LearningRateSchedule {
  const s = typeof spec === "string" ? { kind: spec } : spec;
  if (!["constant", "linear", "polynomial"].includes(s.kind)) {
    throw new Error(`schedule: unknown kind '${String(s.kind)}' (use constant, linear or polynomial)`);
  }
  checkPositiveNumber("lr", peakLr);
  checkPositiveInt("schedule: totalSteps", totalSteps);
  if (!(warmupRatio >= 0 && warmupRatio <= 1)) {
    throw new Error(`warmupRatio must be in [0, 1], got ${warmupRatio}`);
  }
  const power = s.kind === "linear" ? 1 : (s.power ?? 1);
  if (!(power > 0)) throw new Error(`schedule: power must be > 0, got ${power}`);
  const endLr = s.kind === "polynomial" ? (s.endLr ?? 1e-7) : 0;
  if (!(endLr >= 0 && endLr < peakLr)) {
    throw new Error(`schedule: endLr must be in [0, lr), got ${endLr} with lr ${peakLr}`);
  }
  return { peakLr, warmupSteps: Math.ceil(warmupRatio * totalSteps), totalSteps, kind: s.kind, power, endLr };
}

/**
 * The learning rate for the update made at `step` (0-based, as HF's `LambdaLR` which is stepped
 * after each update): `peak · step / warmup` during warm-up, then the decay.
 */
export function learningRateAt(schedule: LearningRateSchedule, step: number): number {
  const { peakLr, warmupSteps, totalSteps, kind, power, endLr } = schedule;
  if (step < warmupSteps) return (peakLr * step) / Math.max(1, warmupSteps);
  if (kind === "constant") return peakLr;
  if (step >= totalSteps) return endLr;
  const remaining = (totalSteps - step) / Math.max(1, totalSteps - warmupSteps);
  return (peakLr - endLr) * remaining ** power + endLr;
}
