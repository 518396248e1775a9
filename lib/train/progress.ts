/**
 * Live training progress. In a notebook (a host with rich display, see lib/host.ts) one output area
 * is updated in place: an HTML progress bar with step/epoch, steps/s and ETA, the current loss and
 * metric, and a small inline SVG loss curve. On a terminal a one-line bar is redrawn on stderr
 * (or, when stderr is not a terminal, a plain line is printed every 5 % of the run).
 */
import { host, hasRichDisplay } from "../host.ts";
import { escapeHtml } from "../html.ts";

/** What the progress display shows at one moment. */
export interface ProgressState {
  /** Title, e.g. `fsam · seed 1`. */
  title: string;
  /** Steps completed. */
  step: number;
  /** Steps planned. */
  totalSteps: number;
  /** Epoch as a fraction (1.5 = half-way through the second). */
  epoch: number;
  /** Epochs planned. */
  epochs: number;
  /** Last training loss. */
  loss: number;
  /** Current learning rate. */
  lr: number;
  /** Name of the task metric. */
  metricName: string;
  /** Last evaluated metric (NaN before the first evaluation). */
  metric: number;
  /** Best evaluated metric so far (NaN before the first evaluation). */
  bestMetric: number;
  /** Seconds since the start. */
  elapsed: number;
  /** Training losses so far, one per step (the curve). */
  losses: readonly number[];
  /** Set when the run ended; `"interrupted"`/`"early-stopped"`/`"diverged"` say why it ended early. */
  status: "running" | "done" | "interrupted" | "early-stopped" | "diverged";
}

function fmt(x: number, digits = 4): string {
  return Number.isFinite(x) ? x.toPrecision(digits) : "–";
}

/** Formats seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** Steps per second and the estimated seconds left. */
export function rateAndEta(state: Pick<ProgressState, "step" | "totalSteps" | "elapsed">): {
  stepsPerSecond: number;
  eta: number;
} {
  const stepsPerSecond = state.elapsed > 0 ? state.step / state.elapsed : Number.NaN;
  const eta = stepsPerSecond > 0 ? (state.totalSteps - state.step) / stepsPerSecond : Number.NaN;
  return { stepsPerSecond, eta };
}

/**
 * An SVG polyline of the losses (`width`×`height` px), down-sampled to at most `width` points by
 * averaging consecutive steps; an empty string when there are fewer than two losses.
 */
export function lossCurveSvg(losses: readonly number[], width = 240, height = 60): string {
  const finite = losses.filter(Number.isFinite);
  if (finite.length < 2) return "";
  const bins = Math.min(width, finite.length);
  const points: number[] = [];
  for (let b = 0; b < bins; b++) {
    const lo = Math.floor((b * finite.length) / bins);
    const hi = Math.max(lo + 1, Math.floor(((b + 1) * finite.length) / bins));
    let sum = 0;
    for (let i = lo; i < hi; i++) sum += finite[i];
    points.push(sum / (hi - lo));
  }
  const min = Math.min(...points);
  const max = Math.max(...points);
  const span = max - min || 1;
  const pad = 3;
  const xy = points.map((p, i) => {
    const x = pad + (i * (width - 2 * pad)) / Math.max(1, points.length - 1);
    const y = pad + ((max - p) * (height - 2 * pad)) / span;
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" role="img" aria-label="training loss">` +
    `<rect width="${width}" height="${height}" fill="#fafafa" stroke="#ddd"/>` +
    `<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${xy.join(" ")}"/>` +
    `<text x="${width - pad}" y="11" font-size="9" text-anchor="end" fill="#555">${fmt(max, 3)}</text>` +
    `<text x="${width - pad}" y="${height - 4}" font-size="9" text-anchor="end" fill="#555">${fmt(min, 3)}</text>` +
    `</svg>`
  );
}

/** The notebook view: an HTML block with a progress bar, the figures and the loss curve. */
export function renderProgressHtml(state: ProgressState): string {
  const { stepsPerSecond, eta } = rateAndEta(state);
  const pct = state.totalSteps > 0 ? Math.min(100, (100 * state.step) / state.totalSteps) : 0;
  const colour = state.status === "interrupted" || state.status === "diverged" ? "#d62728" : state.status === "running" ? "#1f77b4" : "#2ca02c";
  const statusText =
    state.status === "running"
      ? `ETA ${formatDuration(eta)}`
      : `${state.status} in ${formatDuration(state.elapsed)}`;
  return (
    `<div class="fsam-train-progress" style="font-family:monospace;font-size:12px;line-height:1.5">` +
    `<div><b>${escapeHtml(state.title)}</b> — ${statusText}</div>` +
    `<div style="display:flex;align-items:center;gap:8px">` +
    `<progress value="${state.step}" max="${state.totalSteps}" style="width:240px;accent-color:${colour}"></progress>` +
    `<span>step ${state.step}/${state.totalSteps} · epoch ${state.epoch.toFixed(2)}/${state.epochs} · ` +
    `${pct.toFixed(0)}% · ${fmt(stepsPerSecond, 3)} steps/s</span></div>` +
    `<div>loss ${fmt(state.loss)} · lr ${fmt(state.lr, 3)} · ${escapeHtml(state.metricName)} ${fmt(state.metric)} ` +
    `(best ${fmt(state.bestMetric)})</div>` +
    lossCurveSvg(state.losses) +
    `</div>`
  );
}

/** The terminal view: one line, at most `width` characters. */
export function renderProgressLine(state: ProgressState, width = 120): string {
  const { stepsPerSecond, eta } = rateAndEta(state);
  const barWidth = 20;
  const filled = state.totalSteps > 0 ? Math.round((barWidth * state.step) / state.totalSteps) : 0;
  const bar = "#".repeat(Math.min(barWidth, filled)).padEnd(barWidth, ".");
  const tail =
    state.status === "running" ? `ETA ${formatDuration(eta)}` : `${state.status} ${formatDuration(state.elapsed)}`;
  const line =
    `${state.title} [${bar}] ${state.step}/${state.totalSteps} ep ${state.epoch.toFixed(2)} ` +
    `${fmt(stepsPerSecond, 3)} it/s loss ${fmt(state.loss)} ${state.metricName} ${fmt(state.metric)} ${tail}`;
  return line.length > width ? line.slice(0, width) : line;
}

let displayCounter = 0;

/** Where the terminal view is written; tests pass their own. */
export interface ProgressStream {
  /** Writes text. */
  write(text: string): unknown;
  /** True for an interactive terminal (the line is redrawn with `\r`). */
  isTTY?: boolean;
}

/**
 * A live progress display for one training run. Call {@link TrainingProgress.update} after each
 * step (it throttles itself) and {@link TrainingProgress.finish} at the end.
 */
export class TrainingProgress {
  private displayId: string | undefined;
  private lastDraw = -Infinity;
  private lastLoggedStep = -1;
  private readonly rich: boolean;

  /**
   * `mode`: `"auto"` (notebook view under a rich host, terminal otherwise), `"terminal"`, or
   * `"off"`. `intervalMs` is the minimum time between redraws.
   */
  constructor(
    private readonly options: { mode?: "auto" | "terminal" | "off"; stream?: ProgressStream; intervalMs?: number } = {},
  ) {
    this.rich = (options.mode ?? "auto") === "auto" && hasRichDisplay();
  }

  private get stream(): ProgressStream {
    return this.options.stream ?? process.stderr;
  }

  /** Redraws with `state`, unless the last redraw is less than `intervalMs` old and `force` is false. */
  update(state: ProgressState, force = false): void {
    if (this.options.mode === "off") return;
    if (!this.rich && !this.stream.isTTY) {
      const every = Math.max(1, Math.ceil(state.totalSteps / 20));
      const onGrid = Math.floor(state.step / every) > Math.floor(this.lastLoggedStep / every);
      if (state.status !== "running" || onGrid || force) {
        this.lastLoggedStep = state.step;
        this.stream.write(`${renderProgressLine(state)}\n`);
      }
      return;
    }
    const now = performance.now();
    if (!force && now - this.lastDraw < (this.options.intervalMs ?? 250)) return;
    this.lastDraw = now;
    if (this.rich) {
      const bundle = { "text/html": renderProgressHtml(state), "text/plain": renderProgressLine(state) };
      const h = host();
      if (this.displayId === undefined) {
        this.displayId = `fsam-train-${process.pid}-${++displayCounter}`;
        h.display?.(bundle, { displayId: this.displayId });
      } else if (h.updateDisplay) {
        h.updateDisplay(bundle, this.displayId);
      }
      return;
    }
    this.stream.write(`\r${renderProgressLine(state)}\x1b[K`);
  }

  /** Draws the final state and ends the terminal line. */
  finish(state: ProgressState): void {
    if (this.options.mode === "off") return;
    this.update(state, true);
    if (!this.rich && this.stream.isTTY) this.stream.write("\n");
  }
}
