/**
 * The one resumable file downloader of the lab (hub checkpoints, GLUE archives): GET over Node's
 * http/https with redirects followed by hand, the body written to `<dest>.part` and continued with an
 * HTTP Range request after an interruption, the size checked against Content-Length / Content-Range
 * (and a sha256 when the caller knows one), renamed into place only when complete, with progress
 * callbacks, retries, cancellation, and a watchdog that says what is happening when the server is
 * slow: after `noticeAfterMs` without an answer (or without new bytes) the user is told which host is
 * awaited, and after `timeoutMs` the attempt fails with a message naming it.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, stat, unlink } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { dirname } from "node:path";
import { pipeline } from "node:stream/promises";
import { checkPositiveNumber } from "./check.ts";

/** Progress of one file's download. */
export interface DownloadProgress {
  /** File name, e.g. "model.safetensors". */
  file: string;
  /** Bytes on disk so far (including a resumed part). */
  bytes: number;
  /** Full size when the server told it. */
  total: number | undefined;
}

/** How long a download waits, how often it retries, and where it reports. */
export interface TransferOptions {
  /** Retries after a dropped connection, a stalled transfer or a server error (resuming). Default 3. */
  retries?: number;
  /** Wait before retry n is n × this many ms. Default 1000. */
  retryDelayMs?: number;
  /**
   * How long to wait for the server's answer, or for the next bytes of a transfer, before giving up
   * (ms). Default 60000.
   */
  timeoutMs?: number;
  /** After this many ms without an answer or new bytes, say so through `onNotice`. Default 5000. */
  noticeAfterMs?: number;
  /** Receives the slow-server notices; default `console.warn` (a cell's stderr in a notebook). */
  onNotice?: (message: string) => void;
  /** Cancels the download. */
  signal?: AbortSignal;
}

/** What {@link downloadFile} needs beyond {@link TransferOptions}. */
export interface DownloadFileOptions extends TransferOptions {
  /** Name shown in progress events and notices, e.g. "model.safetensors". */
  file: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** A bearer token, sent only to hops on `authOrigin`. */
  token?: string;
  /** Origin the token may be sent to. */
  authOrigin?: string;
  /**
   * The sha256 the server announces in a response's headers, if any; asked for every hop in order
   * (`finalHop` true for the one carrying the body), the first answer wins.
   */
  expectedSha256?: (headers: http.IncomingHttpHeaders, finalHop: boolean) => string | undefined;
  /** Appended to the message of network failures (unreachable host, no answer), e.g. what to check. */
  hint?: string;
  /** Called as bytes arrive. */
  onProgress?: (progress: DownloadProgress) => void;
}

/** A downloaded file. */
export interface DownloadedFile {
  /** File name. */
  name: string;
  /** Local path. */
  path: string;
  /** Size in bytes. */
  bytes: number;
  /** True when the sha256 was checked against the one the server announced. */
  sha256Verified: boolean;
}

/**
 * A download failure: `retryable` when trying again (resuming) may succeed, `status` the HTTP status
 * when the server answered with an error.
 */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
  }
}

const DEFAULTS = { retries: 3, retryDelayMs: 1000, timeoutMs: 60_000, noticeAfterMs: 5_000 };

/** Addresses that cannot work now: failing at once beats retrying. */
const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/** `5000` → `"5 s"`, `150` → `"0.15 s"`. */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(2))} s`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/** The settings of one download with the defaults filled in. */
interface Settings extends Required<Pick<TransferOptions, "retries" | "retryDelayMs" | "timeoutMs" | "noticeAfterMs" | "onNotice">> {
  options: DownloadFileOptions;
  suffix: string;
}

/**
 * A timer pair for one wait: a notice after `noticeAfterMs`, then `fail` after `timeoutMs`. `restart`
 * begins a new wait (e.g. when bytes arrive), `stop` ends it.
 */
class Watchdog {
  private notice: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly s: Settings,
    private readonly describe: (waitedMs: number) => string,
    private readonly fail: () => void,
  ) {}

  restart(): void {
    this.stop();
    if (this.s.noticeAfterMs < this.s.timeoutMs) {
      this.notice = setTimeout(() => this.s.onNotice(`${this.describe(this.s.noticeAfterMs)}; still waiting, giving up after ${seconds(this.s.timeoutMs)}`), this.s.noticeAfterMs);
    }
    this.deadline = setTimeout(this.fail, this.s.timeoutMs);
  }

  stop(): void {
    clearTimeout(this.notice);
    clearTimeout(this.deadline);
  }
}

/** The final response of a GET (redirects followed) and the sha256 its hops announced. */
interface Answer {
  response: http.IncomingMessage;
  url: URL;
  sha256: string | undefined;
}

/** One hop: resolves with the response headers, or rejects with a {@link DownloadError}. */
function request(url: URL, headers: Record<string, string>, s: Settings): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const get = url.protocol === "https:" ? https.get : http.get;
    const req = get(url, { headers, signal: s.options.signal }, (response) => {
      watchdog.stop();
      resolve(response);
    });
    const watchdog = new Watchdog(
      s,
      (ms) => `no answer from ${url.host} after ${seconds(ms)} (waiting for the response to GET ${url.href})`,
      () =>
        req.destroy(new DownloadError(`no answer from ${url.host} within ${seconds(s.timeoutMs)} (GET ${url.href})${s.suffix}`, false)),
    );
    watchdog.restart();
    req.on("error", (err: NodeJS.ErrnoException) => {
      watchdog.stop();
      if (err instanceof DownloadError) reject(err);
      else if (err.name === "AbortError") reject(new DownloadError(`download of ${url.href} was cancelled`, false));
      // A refused or unresolvable address fails at once; resets retry.
      else reject(new DownloadError(`could not reach ${url.href}: ${err.message}${s.suffix}`, !(err.code && UNREACHABLE_CODES.has(err.code))));
    });
  });
}

/** GET with redirects followed by hand, so that headers of every hop (e.g. X-Linked-Etag) are seen. */
async function get(url: string, headers: Record<string, string>, s: Settings): Promise<Answer> {
  const { token, authOrigin, expectedSha256 } = s.options;
  let current = new URL(url);
  let sha256: string | undefined;
  for (let hop = 0; hop < 10; hop++) {
    const hopHeaders: Record<string, string> = { "user-agent": "fsam-lab", ...s.options.headers, ...headers };
    if (token && current.origin === authOrigin) hopHeaders.authorization = `Bearer ${token}`;
    const response = await request(current, hopHeaders, s);
    const status = response.statusCode ?? 0;
    const redirect = status >= 300 && status < 400 && response.headers.location !== undefined;
    sha256 ??= expectedSha256?.(response.headers, !redirect);
    if (!redirect) return { response, url: current, sha256 };
    response.resume();
    current = new URL(response.headers.location!, current);
  }
  throw new DownloadError(`too many redirects from ${url}`, false);
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

/**
 * Appends (from `start > 0`) or writes the response body to `path`, reporting the byte count. When
 * the connection drops or stalls, what arrived is still flushed to disk, so a later attempt can resume.
 */
function writeBody(answer: Answer, path: string, start: number, s: Settings, progress: (bytes: number) => void): Promise<{ bytes: number; error?: Error }> {
  const { response, url } = answer;
  return new Promise((resolve, reject) => {
    const out = createWriteStream(path, { flags: start > 0 ? "a" : "w" });
    let bytes = start;
    let error: Error | undefined;
    const watchdog = new Watchdog(
      s,
      (ms) => `no data from ${url.host} for ${seconds(ms)} after ${mib(bytes)} of ${s.options.file}`,
      () =>
        response.destroy(
          new DownloadError(`${url.href}: the transfer stalled: no data from ${url.host} for ${seconds(s.timeoutMs)} after ${bytes} bytes${s.suffix}`, true),
        ),
    );
    watchdog.restart();
    progress(bytes);
    response.on("data", (chunk: Buffer) => {
      watchdog.restart();
      bytes += chunk.length;
      progress(bytes);
      if (!out.write(chunk)) {
        response.pause();
        out.once("drain", () => response.resume());
      }
    });
    response.on("error", (err) => {
      error ??= err;
    });
    response.on("close", () => {
      watchdog.stop();
      if (!response.complete) error ??= new Error("the connection closed before the end of the body");
      out.end();
    });
    out.on("error", reject);
    out.on("finish", () => resolve({ bytes, error }));
  });
}

/** One attempt at bringing `dest + ".part"` to completion and renaming it to `dest`. */
async function attempt(url: string, dest: string, s: Settings): Promise<DownloadedFile> {
  const part = `${dest}.part`;
  const have = await fileSize(part);
  const answer = await get(url, have > 0 ? { range: `bytes=${have}-` } : {}, s);
  const { response, sha256 } = answer;
  const status = response.statusCode ?? 0;
  let start = 0;
  let total: number | undefined;
  if (status === 206) {
    const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers["content-range"] ?? "");
    if (!match || Number(match[1]) !== have) {
      response.resume();
      await unlink(part).catch(() => undefined);
      throw new DownloadError(`${url}: unusable Content-Range ${response.headers["content-range"]}; restarting`, true);
    }
    start = have;
    total = match[3] === "*" ? undefined : Number(match[3]);
  } else if (status === 200) {
    const length = response.headers["content-length"];
    total = length === undefined ? undefined : Number(length);
  } else {
    response.resume();
    if (status === 416) {
      await unlink(part).catch(() => undefined);
      throw new DownloadError(`${url}: the partial file does not fit the remote one; restarting`, true);
    }
    const message = `${url} answered HTTP ${status} ${response.statusMessage ?? ""}`.trim();
    throw new DownloadError(message, status >= 500 || status === 429, status);
  }
  const file = s.options.file;
  const received = await writeBody(answer, part, start, s, (bytes) => s.options.onProgress?.({ file, bytes, total }));
  if (received.error) {
    if (s.options.signal?.aborted) throw new DownloadError(`download of ${url} was cancelled`, false);
    if (received.error instanceof DownloadError) throw received.error;
    throw new DownloadError(`${url}: connection lost after ${received.bytes} bytes (${received.error.message})`, true);
  }
  const size = await fileSize(part);
  if (total !== undefined && size !== total) {
    if (size > total) await unlink(part).catch(() => undefined);
    throw new DownloadError(`${url}: got ${size} of ${total} bytes`, true);
  }
  if (sha256 !== undefined) {
    const actual = await sha256Of(part);
    if (actual !== sha256) {
      await unlink(part).catch(() => undefined);
      throw new DownloadError(`checksum mismatch for ${url}: expected sha256 ${sha256}, got ${actual} (the partial file was removed)`, false);
    }
  }
  await rename(part, dest);
  return { name: file, path: dest, bytes: size, sha256Verified: sha256 !== undefined };
}

/**
 * Downloads `url` to `dest` (see the module comment): resumes from `dest.part`, retries what may
 * succeed on a second try (dropped or stalled connections, 5xx, 429) after `retryDelayMs × n`, and
 * renames the finished, checked file into place. A server that answers nothing is reported after
 * `noticeAfterMs` and given up on after `timeoutMs`, without retry. Failures are
 * {@link DownloadError}s naming the URL (and the HTTP status when there is one).
 */
export async function downloadFile(url: string, dest: string, options: DownloadFileOptions): Promise<DownloadedFile> {
  const s: Settings = {
    retries: options.retries ?? DEFAULTS.retries,
    retryDelayMs: options.retryDelayMs ?? DEFAULTS.retryDelayMs,
    timeoutMs: checkPositiveNumber("timeoutMs", options.timeoutMs ?? DEFAULTS.timeoutMs),
    noticeAfterMs: checkPositiveNumber("noticeAfterMs", options.noticeAfterMs ?? DEFAULTS.noticeAfterMs),
    onNotice: options.onNotice ?? ((message) => console.warn(`[fsam-lab] ${message}`)),
    options,
    suffix: options.hint ? `; ${options.hint}` : "",
  };
  await mkdir(dirname(dest), { recursive: true });
  for (let n = 0; ; n++) {
    try {
      return await attempt(url, dest, s);
    } catch (err) {
      if (!(err instanceof DownloadError) || !err.retryable || n >= s.retries) throw err;
      await new Promise((r) => setTimeout(r, s.retryDelayMs * (n + 1)));
    }
  }
}
