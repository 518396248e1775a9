/**
 * The Jupyter wire format (messaging protocol 5.3): turning ZeroMQ multipart frames into messages and
 * back, with HMAC-SHA256 signatures on every message.
 *
 * A message on the wire is `[...identities, "<IDS|MSG>", signature, header, parent_header, metadata,
 * content, ...buffers]`; the signature is the hex HMAC of the four JSON frames.
 */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";

/** The protocol version this kernel speaks. */
export const PROTOCOL_VERSION = "5.3";

/** The delimiter frame between routing identities and the signed message. */
const DELIMITER = "<IDS|MSG>";

/** A Jupyter message header. */
export interface Header {
  /** Unique id of this message. */
  msg_id: string;
  /** Kind of message, e.g. `execute_request`. */
  msg_type: string;
  /** Session id of the sender. */
  session: string;
  /** User name of the sender. */
  username: string;
  /** ISO 8601 creation time. */
  date: string;
  /** Protocol version. */
  version: string;
  /** Any extra fields a client adds (subshell ids and the like) are carried along. */
  [extra: string]: unknown;
}

/** A decoded Jupyter message. */
export interface Message {
  /** ZeroMQ routing identities that precede the delimiter (used to address the reply). */
  identities: Buffer[];
  /** This message's header. */
  header: Header;
  /** Header of the message this one answers (or `{}`). */
  parent_header: Partial<Header>;
  /** Free-form metadata. */
  metadata: Record<string, unknown>;
  /** The message-type specific content. */
  content: Record<string, unknown>;
  /** Binary buffers that follow the content frame. */
  buffers: Buffer[];
}

/** Why a set of frames could not be turned into a message. */
export class WireError extends Error {
  /** Header of the bad message when it could be read, so an error reply can name its parent. */
  readonly header: Partial<Header> | undefined;
  /** Routing identities of the bad message. */
  readonly identities: Buffer[];

  /**
   * @param message what is wrong.
   * @param identities routing identities found before the delimiter.
   * @param header the header when it parsed.
   */
  constructor(message: string, identities: Buffer[], header?: Partial<Header>) {
    super(message);
    this.name = "WireError";
    this.identities = identities;
    this.header = header;
  }
}

/** Signs and verifies messages with one connection key (HMAC-SHA256; an empty key disables signing). */
export class Signer {
  readonly #key: string;

  /** @param key the `key` field of the connection file. */
  constructor(key: string) {
    this.#key = key;
  }

  /** The hex signature of the four JSON frames (empty string when the key is empty). */
  sign(frames: readonly (Buffer | string)[]): string {
    if (this.#key === "") return "";
    const hmac = createHmac("sha256", this.#key);
    for (const f of frames) hmac.update(f);
    return hmac.digest("hex");
  }

  /** True when `signature` is the right one for `frames`, compared in constant time. */
  verify(signature: string, frames: readonly (Buffer | string)[]): boolean {
    if (this.#key === "") return true;
    const expected = Buffer.from(this.sign(frames), "utf8");
    const given = Buffer.from(signature, "utf8");
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}

/** Parses a JSON frame that must hold an object; names the frame when it does not. */
function parseObjectFrame(frame: Buffer, name: string, identities: Buffer[], header?: Partial<Header>) {
  let value: unknown;
  try {
    value = JSON.parse(frame.toString("utf8"));
  } catch (err) {
    throw new WireError(`${name} frame is not valid JSON (${(err as Error).message})`, identities, header);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new WireError(`${name} frame must be a JSON object`, identities, header);
  }
  return value as Record<string, unknown>;
}

/** Header fields every message must carry, with their JSON types. */
const REQUIRED_HEADER_FIELDS = ["msg_id", "msg_type", "session", "version"] as const;

/**
 * Decodes multipart frames into a message after checking the signature.
 *
 * @throws WireError when the delimiter is missing, the signature is wrong or missing, or a frame is
 *   not a JSON object / the header lacks `msg_id`, `msg_type`, `session` or `version`.
 */
export function decodeMessage(frames: readonly Buffer[], signer: Signer): Message {
  const delim = frames.findIndex((f) => f.length === DELIMITER.length && f.toString("latin1") === DELIMITER);
  if (delim < 0) throw new WireError("no <IDS|MSG> delimiter frame", []);
  const identities = frames.slice(0, delim).map((f) => Buffer.from(f));
  if (frames.length < delim + 6) {
    throw new WireError(`expected 5 frames after the delimiter, got ${frames.length - delim - 1}`, identities);
  }
  const signature = frames[delim + 1].toString("utf8");
  const signed = frames.slice(delim + 2, delim + 6);
  if (!signer.verify(signature, signed)) {
    throw new WireError(signature === "" ? "missing signature" : "bad signature", identities);
  }
  const header = parseObjectFrame(signed[0], "header", identities);
  for (const field of REQUIRED_HEADER_FIELDS) {
    if (typeof header[field] !== "string" || header[field] === "") {
      throw new WireError(`header field '${field}' is missing or not a string`, identities, header);
    }
  }
  const parent = parseObjectFrame(signed[1], "parent_header", identities, header);
  const metadata = parseObjectFrame(signed[2], "metadata", identities, header);
  const content = parseObjectFrame(signed[3], "content", identities, header);
  return {
    identities,
    header: {
      username: "",
      date: "",
      ...header,
    } as Header,
    parent_header: parent as Partial<Header>,
    metadata,
    content,
    buffers: frames.slice(delim + 6).map((f) => Buffer.from(f)),
  };
}

/** What to put in a new message; the header is made here. */
export interface OutgoingMessage {
  /** Kind of message. */
  msgType: string;
  /** Content object. */
  content: Record<string, unknown>;
  /** Header of the request this answers or belongs to (empty object when none). */
  parent?: Partial<Header>;
  /** Metadata object. */
  metadata?: Record<string, unknown>;
  /** Routing identities (replies on ROUTER sockets) or the topic (iopub). */
  identities?: Buffer[];
  /** Binary buffers. */
  buffers?: Buffer[];
}

/** Makes a header for a new message of this session. */
export function makeHeader(msgType: string, session: string): Header {
  return {
    msg_id: randomUUID(),
    msg_type: msgType,
    session,
    username: "fsam-lab",
    date: new Date().toISOString(),
    version: PROTOCOL_VERSION,
  };
}

/** Encodes a message into signed multipart frames. */
export function encodeMessage(msg: OutgoingMessage, session: string, signer: Signer): Buffer[] {
  const json = [
    JSON.stringify(makeHeader(msg.msgType, session)),
    JSON.stringify(msg.parent ?? {}),
    JSON.stringify(msg.metadata ?? {}),
    JSON.stringify(msg.content),
  ].map((s) => Buffer.from(s, "utf8"));
  return [
    ...(msg.identities ?? []),
    Buffer.from(DELIMITER, "latin1"),
    Buffer.from(signer.sign(json), "utf8"),
    ...json,
    ...(msg.buffers ?? []),
  ];
}

/** The fields of a Jupyter connection file this kernel uses. */
export interface ConnectionInfo {
  /** Transport, `tcp` or `ipc`. */
  transport: string;
  /** Address to bind. */
  ip: string;
  /** Port of each channel. */
  shell_port: number;
  /** Port of the iopub channel. */
  iopub_port: number;
  /** Port of the stdin channel. */
  stdin_port: number;
  /** Port of the control channel. */
  control_port: number;
  /** Port of the heartbeat channel. */
  hb_port: number;
  /** HMAC key. */
  key: string;
  /** Signature scheme; only `hmac-sha256` is supported. */
  signature_scheme: string;
}

/**
 * Checks a parsed connection file and returns it typed.
 *
 * @param source names the file in errors.
 * @throws Error naming the field that is missing or wrong.
 */
export function parseConnectionInfo(value: unknown, source: string): ConnectionInfo {
  if (value === null || typeof value !== "object") throw new Error(`${source}: connection file is not a JSON object`);
  const v = value as Record<string, unknown>;
  for (const port of ["shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"]) {
    if (!Number.isInteger(v[port]) || (v[port] as number) < 0) {
      throw new Error(`${source}: '${port}' must be a port number, got ${JSON.stringify(v[port])}`);
    }
  }
  const scheme = v.signature_scheme ?? "hmac-sha256";
  if (scheme !== "hmac-sha256") {
    throw new Error(`${source}: signature_scheme ${JSON.stringify(scheme)} is not supported (use hmac-sha256)`);
  }
  return {
    transport: typeof v.transport === "string" ? v.transport : "tcp",
    ip: typeof v.ip === "string" ? v.ip : "127.0.0.1",
    shell_port: v.shell_port as number,
    iopub_port: v.iopub_port as number,
    stdin_port: v.stdin_port as number,
    control_port: v.control_port as number,
    hb_port: v.hb_port as number,
    key: typeof v.key === "string" ? v.key : "",
    signature_scheme: "hmac-sha256",
  };
}

/** The ZeroMQ endpoint of a channel, e.g. `tcp://127.0.0.1:5555` (ipc uses `ip-port` paths). */
export function endpoint(info: ConnectionInfo, port: number): string {
  return info.transport === "ipc" ? `ipc://${info.ip}-${port}` : `${info.transport}://${info.ip}:${port}`;
}
