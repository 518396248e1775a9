/**
 * Downloads a BERT model folder (`config.json`, the weights, `vocab.txt`) from the Hugging
 * Face hub into a local cache: resumable (`.part` files continued with HTTP Range), checked (size
 * against Content-Length / Content-Range, sha256 against the hub's LFS ETag when it is one), renamed
 * into place only when complete, with progress callbacks. Uses Node's http/https modules only.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdir, readFile, rename, stat, unlink } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { homedir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { currentAbortSignal } from "../host.ts";
import { writeFileAtomic } from "../atomic-write.ts";
import { notebookDownloadProgress } from "./download-progress.ts";
import { fetchModelWeights } from "./weight-files.ts";

/** Progress of one file's download. */
export interface DownloadProgress {
  /** File name, e.g. "model.safetensors". */
  file: string;
  /** Bytes on disk so far (including a resumed part). */
  bytes: number;
  /** Full size when the server told it. */
  total: number | undefined;
}

/** Options of {@link downloadModel}. */
export interface DownloadModelOptions {
  /** Folder holding model folders; default `$FSAM_LAB_CACHE/models` or `~/.cache/fsam-lab/models`. */
  cacheDir?: string;
  /** Hub address; default `$HF_ENDPOINT` or https://huggingface.co. */
  endpoint?: string;
  /** Branch, tag or commit; default "main". */
  revision?: string;
  /** Called as bytes arrive; default: an updating output in a notebook, nothing on a terminal. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Download again even when the cache holds a complete copy. */
  force?: boolean;
  /** Retries after a dropped connection, a timeout or a server error (resuming). Default 3. */
  retries?: number;
  /** Wait before retry n is n × this many ms. Default 1000. */
  retryDelayMs?: number;
  /** Idle socket timeout in ms. Default 30000. */
  timeoutMs?: number;
  /** Access token for private or gated models; default `$HF_TOKEN`. Sent to the endpoint's host only. */
  token?: string;
  /** Cancels the download; default: the running notebook cell's abort signal. */
  signal?: AbortSignal;
}

/** One file of a downloaded model folder. */
export interface DownloadedFile {
  /** File name. */
  name: string;
  /** Local path. */
  path: string;
  /** Size in bytes. */
  bytes: number;
  /** True when the sha256 was checked against the hub's ETag (LFS files). */
  sha256Verified: boolean;
}

/** Result of {@link downloadModel}. */
export interface DownloadResult {
  /** Local model folder, loadable with `loadPretrained`. */
  dir: string;
  /** Files present. */
  files: DownloadedFile[];
  /** Optional files the hub does not have (e.g. vocab.txt of a non-WordPiece model). */
  absent: string[];
  /** True when everything came from the cache without network access. */
  cached: boolean;
}

const CONFIG_FILE = "config.json";
const OPTIONAL_FILES = ["vocab.txt"];
const MANIFEST = "download.json";

/** A download failure; `retryable` when trying again (resuming) may succeed. */
class DownloadError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
  }
}

function checkHubId(id: string): void {
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(id) || id.split("/").some((part) => part === "." || part === "..")) {
    throw new Error(`invalid Hugging Face model id ${JSON.stringify(id)}: expected "name" or "owner/name"`);
  }
}

/** The local folder a model id and revision download into. */
export function modelCacheDir(hfId: string, options: { cacheDir?: string; revision?: string } = {}): string {
  checkHubId(hfId);
  const root =
    options.cacheDir ?? join(process.env.FSAM_LAB_CACHE ?? join(homedir(), ".cache", "fsam-lab"), "models");
  const revision = options.revision ?? "main";
  const suffix = revision === "main" ? "" : `@${revision.replace(/[^\w.-]/g, "-")}`;
  return join(root, hfId.replace(/\//g, "--") + suffix);
}

/** The hub URL of a file: `${endpoint}/${id}/resolve/${revision}/${file}`. */
export function hubFileUrl(endpoint: string, hfId: string, revision: string, file: string): string {
  return `${endpoint.replace(/\/+$/, "")}/${hfId}/resolve/${encodeURIComponent(revision)}/${file}`;
}

function unreachable(url: string, reason: string, retryable: boolean): DownloadError {
  return new DownloadError(`could not reach ${url}: ${reason}; check your connection or set HF_ENDPOINT`, retryable);
}

const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

interface HubResponse {
  response: http.IncomingMessage;
  /** sha256 the hub announced (X-Linked-Etag or ETag of any hop), when it is one. */
  sha256: string | undefined;
}

/** A sha256 from an ETag value (`"abc…"`, `W/"abc…"`), if it is 64 hex digits. */
function etagSha256(value: string | string[] | undefined): string | undefined {
  if (typeof value !== "string") return undefined;
  const bare = value.replace(/^W\//, "").replace(/"/g, "").trim().toLowerCase();
  return /^[0-9a-f]{64}$/.test(bare) ? bare : undefined;
}

/** GET with redirects followed by hand, so headers of the first hop (X-Linked-Etag) are seen. */
async function hubGet(
  url: string,
  headers: Record<string, string>,
  auth: { origin: string; token: string | undefined },
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<HubResponse> {
  let current = new URL(url);
  let sha256: string | undefined;
  for (let hop = 0; hop < 10; hop++) {
    const hopHeaders: Record<string, string> = { "user-agent": "fsam-lab", ...headers };
    if (auth.token && current.origin === auth.origin) hopHeaders.authorization = `Bearer ${auth.token}`;
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const get = current.protocol === "https:" ? https.get : http.get;
      const request = get(current, { headers: hopHeaders, signal }, resolve);
      request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      request.on("error", (err: NodeJS.ErrnoException) => {
        if (err.name === "AbortError") reject(new DownloadError(`download of ${url} was cancelled`, false));
        // No answer at all: a refused or unresolvable address fails at once; resets and timeouts retry.
        else reject(unreachable(current.href, err.message, !(err.code && UNREACHABLE_CODES.has(err.code))));
      });
    });
    sha256 ??= etagSha256(response.headers["x-linked-etag"]);
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400 && response.headers.location) {
      response.resume();
      current = new URL(response.headers.location, current);
      continue;
    }
    sha256 ??= etagSha256(response.headers.etag);
    return { response, sha256 };
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

interface FetchContext {
  auth: { origin: string; token: string | undefined };
  timeoutMs: number;
  signal: AbortSignal | undefined;
  onProgress?: (progress: DownloadProgress) => void;
}

/**
 * Appends (from `start > 0`) or writes the response body to `path`, reporting the byte count. When
 * the connection drops, what arrived is still flushed to disk, so a later attempt can resume.
 */
function writeBody(
  response: http.IncomingMessage,
  path: string,
  start: number,
  progress: (bytes: number) => void,
): Promise<{ bytes: number; error?: Error }> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(path, { flags: start > 0 ? "a" : "w" });
    let bytes = start;
    let error: Error | undefined;
    progress(bytes);
    response.on("data", (chunk: Buffer) => {
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
      if (!response.complete) error ??= new Error("the connection closed before the end of the body");
      out.end();
    });
    out.on("error", reject);
    out.on("finish", () => resolve({ bytes, error }));
  });
}

/** One attempt at bringing `dest + ".part"` to completion and renaming it to `dest`. */
async function attemptFile(url: string, file: string, dest: string, ctx: FetchContext): Promise<DownloadedFile> {
  const part = `${dest}.part`;
  const have = await fileSize(part);
  const { response, sha256 } = await hubGet(
    url,
    have > 0 ? { range: `bytes=${have}-` } : {},
    ctx.auth,
    ctx.timeoutMs,
    ctx.signal,
  );
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
    const message = `${url}: HTTP ${status} ${response.statusMessage ?? ""}`.trim();
    if (status === 401 || status === 403) {
      throw new DownloadError(`${message} (private or gated model? set HF_TOKEN to an access token)`, false, status);
    }
    throw new DownloadError(message, status >= 500 || status === 429, status);
  }
  const received = await writeBody(response, part, start, (bytes) => ctx.onProgress?.({ file, bytes, total }));
  if (received.error) {
    if (ctx.signal?.aborted) throw new DownloadError(`download of ${url} was cancelled`, false);
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
      throw new DownloadError(
        `checksum mismatch for ${url}: expected sha256 ${sha256}, got ${actual} (the partial file was removed)`,
        false,
      );
    }
  }
  await rename(part, dest);
  return { name: file, path: dest, bytes: size, sha256Verified: sha256 !== undefined };
}

async function fetchFile(
  url: string,
  file: string,
  dest: string,
  ctx: FetchContext,
  retries: number,
  retryDelayMs: number,
): Promise<DownloadedFile> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await attemptFile(url, file, dest, ctx);
    } catch (err) {
      if (!(err instanceof DownloadError) || !err.retryable || attempt >= retries) throw err;
      await new Promise((r) => setTimeout(r, retryDelayMs * (attempt + 1)));
    }
  }
}

async function readManifest(dir: string): Promise<DownloadResult | undefined> {
  try {
    const manifest = JSON.parse(await readFile(join(dir, MANIFEST), "utf8")) as DownloadResult;
    if (!manifest.files.every((f) => existsSync(join(dir, f.name)))) return undefined;
    return {
      dir,
      files: manifest.files.map((f) => ({ ...f, path: join(dir, f.name) })),
      absent: manifest.absent ?? [],
      cached: true,
    };
  } catch {
    return undefined;
  }
}

/**
 * Downloads `config.json`, the weights and (if the hub has it) `vocab.txt` of a hub model into
 * `modelCacheDir(hfId)` and returns the folder. The weights are the first the repository has of
 * `model.safetensors`, `model.safetensors.index.json`, `pytorch_model.bin` and
 * `pytorch_model.bin.index.json`, with the shards an index lists. A complete earlier download is
 * reused without network access. Interrupted downloads resume from their `.part` file; each file is checked
 * (size, and sha256 for LFS files) before it is renamed into place. Offline, it fails with
 * "could not reach <url>: <reason>; check your connection or set HF_ENDPOINT".
 */
export async function downloadModel(hfId: string, options: DownloadModelOptions = {}): Promise<DownloadResult> {
  const revision = options.revision ?? "main";
  const dir = modelCacheDir(hfId, { cacheDir: options.cacheDir, revision });
  if (!options.force) {
    const cached = await readManifest(dir);
    if (cached) return cached;
  }
  const endpoint = options.endpoint ?? process.env.HF_ENDPOINT ?? "https://huggingface.co";
  let origin: string;
  try {
    origin = new URL(endpoint).origin;
  } catch {
    throw new Error(`endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
  }
  await mkdir(dir, { recursive: true });
  const ctx: FetchContext = {
    auth: { origin, token: options.token ?? process.env.HF_TOKEN },
    timeoutMs: options.timeoutMs ?? 30_000,
    signal: options.signal ?? currentAbortSignal(),
    onProgress: options.onProgress ?? notebookDownloadProgress(`downloading ${hfId}`),
  };
  /** Downloads one file; undefined when the repository does not have it (404). */
  const fetchIfPresent = async (file: string): Promise<DownloadedFile | undefined> => {
    const url = hubFileUrl(endpoint, hfId, revision, file);
    try {
      return await fetchFile(url, file, join(dir, file), ctx, options.retries ?? 3, options.retryDelayMs ?? 1000);
    } catch (err) {
      if (err instanceof DownloadError && err.status === 404) return undefined;
      throw err;
    }
  };
  const config = await fetchIfPresent(CONFIG_FILE);
  if (config === undefined) {
    const url = hubFileUrl(endpoint, hfId, revision, CONFIG_FILE);
    throw new Error(`${hfId}: ${CONFIG_FILE} not found at revision "${revision}" (${url} gave 404); is the model id right?`);
  }
  const files: DownloadedFile[] = [config, ...(await fetchModelWeights(fetchIfPresent, `${hfId} at revision "${revision}"`))];
  const absent: string[] = [];
  for (const file of OPTIONAL_FILES) {
    const got = await fetchIfPresent(file);
    if (got) files.push(got);
    else absent.push(file);
  }
  const result: DownloadResult = { dir, files, absent, cached: false };
  writeFileAtomic(
    join(dir, MANIFEST),
    `${JSON.stringify({ id: hfId, revision, endpoint, downloadedAt: new Date().toISOString(), files, absent }, null, 2)}\n`,
  );
  return result;
}
