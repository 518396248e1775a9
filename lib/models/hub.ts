/**
 * Downloads a BERT model folder (`config.json`, the weights, `vocab.txt`) from the Hugging
 * Face hub into a local cache through the lab's resumable downloader (lib/download.ts): `.part`
 * files continued with HTTP Range, sizes checked, sha256 checked against the hub's LFS ETag when it is
 * one, files renamed into place only when complete, with progress callbacks and slow-hub notices.
 */
import type { IncomingHttpHeaders } from "node:http";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { currentAbortSignal } from "../host.ts";
import { writeFileAtomic } from "../atomic-write.ts";
import { DownloadError, downloadFile, type DownloadedFile, type DownloadProgress, type TransferOptions } from "../download.ts";
import { notebookDownloadProgress } from "./download-progress.ts";
import { fetchModelWeights } from "./weight-files.ts";

/** Options of {@link downloadModel}; the waiting, retry and notice settings are {@link TransferOptions}. */
export interface DownloadModelOptions extends TransferOptions {
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
  /** Access token for private or gated models; default `$HF_TOKEN`. Sent to the endpoint's host only. */
  token?: string;
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

/** A sha256 from an ETag value (`"abc…"`, `W/"abc…"`), if it is 64 hex digits. */
function etagSha256(value: string | string[] | undefined): string | undefined {
  if (typeof value !== "string") return undefined;
  const bare = value.replace(/^W\//, "").replace(/"/g, "").trim().toLowerCase();
  return /^[0-9a-f]{64}$/.test(bare) ? bare : undefined;
}

/** The sha256 the hub announces for an LFS file: X-Linked-Etag of any hop, else the final ETag. */
function hubSha256(headers: IncomingHttpHeaders, finalHop: boolean): string | undefined {
  return etagSha256(headers["x-linked-etag"]) ?? (finalHop ? etagSha256(headers.etag) : undefined);
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
  const transfer = {
    ...options,
    token: options.token ?? process.env.HF_TOKEN,
    authOrigin: origin,
    signal: options.signal ?? currentAbortSignal(),
    onProgress: options.onProgress ?? notebookDownloadProgress(`downloading ${hfId}`),
    expectedSha256: hubSha256,
    hint: "check your connection or set HF_ENDPOINT",
  };
  /** Downloads one file; undefined when the repository does not have it (404). */
  const fetchIfPresent = async (file: string): Promise<DownloadedFile | undefined> => {
    try {
      return await downloadFile(hubFileUrl(endpoint, hfId, revision, file), join(dir, file), { ...transfer, file });
    } catch (err) {
      if (err instanceof DownloadError && err.status === 404) return undefined;
      if (err instanceof DownloadError && (err.status === 401 || err.status === 403)) {
        throw new DownloadError(`${err.message} (private or gated model? set HF_TOKEN to an access token)`, false, err.status);
      }
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
