/**
 * A minimal Jupyter client in node for running notebooks without Jupyter: it writes a connection
 * file, spawns the FSAM Lab kernel from its kernelspec argv, and speaks the messaging protocol over
 * ZeroMQ (shell and control as DEALER, iopub as SUB) with the kernel's own wire module for framing and
 * HMAC signing.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zmq from "zeromq";
import { Signer, decodeMessage, encodeMessage, type ConnectionInfo, type Message } from "../../kernel/wire.ts";
import { kernelJson } from "../../kernel/kernelspec.ts";

/** Options of {@link KernelClient.start}. */
export interface KernelStartOptions {
  /** Working directory of the kernel (a notebook's folder). */
  cwd: string;
  /** Environment of the kernel process (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Milliseconds to wait for the kernel's first reply (default 120 000). */
  startTimeoutMs?: number;
}

/** Everything the kernel published for one execute request, and its reply. */
export interface ExecutionMessages {
  /** IOPub messages whose parent is the request, in arrival order (status messages excluded). */
  iopub: Message[];
  /** The execute_reply content. */
  reply: Record<string, unknown>;
}

/** Asks the OS for a free TCP port on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Rejects after `ms` milliseconds with `what` in the message. */
function timeout(ms: number, what: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms).unref());
}

/** A running kernel and the sockets connected to it. */
export class KernelClient {
  readonly #info: ConnectionInfo;
  readonly #signer: Signer;
  readonly #session = randomBytes(16).toString("hex");
  readonly #shell = new zmq.Dealer({ linger: 0 });
  readonly #control = new zmq.Dealer({ linger: 0 });
  readonly #iopub = new zmq.Subscriber({ linger: 0 });
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #stderr: string[] = [];
  /** Listeners of IOPub messages by parent msg_id. */
  readonly #listeners = new Map<string, (msg: Message) => void>();
  #exited: string | undefined;
  /** Rejects when the kernel process exits. */
  readonly #died: Promise<never>;

  private constructor(info: ConnectionInfo, child: ChildProcess, dir: string) {
    this.#info = info;
    this.#signer = new Signer(info.key);
    this.#child = child;
    this.#dir = dir;
    child.stderr?.on("data", (chunk: Buffer) => {
      this.#stderr.push(chunk.toString("utf8"));
      if (this.#stderr.length > 200) this.#stderr.shift();
    });
    this.#died = new Promise<never>((_, reject) =>
      child.on("exit", (code, signal) => {
        this.#exited = `kernel exited (${signal ?? `code ${code}`})`;
        reject(new Error(`${this.#exited}\n--- kernel log ---\n${this.log}`));
      }),
    );
    this.#died.catch(() => undefined); // observed by execute(); never an unhandled rejection
  }

  /** The kernel's recent stderr (its log), for error messages. */
  get log(): string {
    return this.#stderr.join("");
  }

  /** Spawns the kernel (the kernelspec's argv) and waits until it answers kernel_info on shell and iopub. */
  static async start(options: KernelStartOptions): Promise<KernelClient> {
    const ports = await Promise.all([0, 1, 2, 3, 4].map(() => freePort()));
    const info: ConnectionInfo = {
      transport: "tcp",
      ip: "127.0.0.1",
      shell_port: ports[0],
      iopub_port: ports[1],
      stdin_port: ports[2],
      control_port: ports[3],
      hb_port: ports[4],
      key: randomBytes(32).toString("hex"),
      signature_scheme: "hmac-sha256",
    };
    const dir = mkdtempSync(join(tmpdir(), "fsam-lab-headless-"));
    const file = join(dir, "connection.json");
    writeFileSync(`${file}.tmp`, JSON.stringify(info, null, 2), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
    const argv = (kernelJson().argv as string[]).map((a) => (a === "{connection_file}" ? file : a));
    const child = spawn(argv[0], argv.slice(1), { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "ignore", "pipe"] });
    // The kernel must not outlive this process (process.exit and normal exits both emit "exit").
    const killOnExit = () => child.kill("SIGKILL");
    process.once("exit", killOnExit);
    child.once("exit", () => process.off("exit", killOnExit));
    const client = new KernelClient(info, child, dir);
    try {
      await Promise.race([client.#connect(), timeout(options.startTimeoutMs ?? 120_000, "the kernel to start")]);
    } catch (err) {
      await client.close();
      throw new Error(`${(err as Error).message}\n--- kernel log ---\n${client.log}`);
    }
    return client;
  }

  async #connect(): Promise<void> {
    const url = (port: number) => `tcp://127.0.0.1:${port}`;
    this.#shell.connect(url(this.#info.shell_port));
    this.#control.connect(url(this.#info.control_port));
    this.#iopub.connect(url(this.#info.iopub_port));
    this.#iopub.subscribe();
    void this.#readIopub();
    // PUB/SUB joins late: repeat kernel_info until its status messages reach us on iopub.
    for (;;) {
      if (this.#exited) throw new Error(this.#exited);
      const seen = new Promise<void>((resolveSeen) => {
        const id = this.#send(this.#shell, "kernel_info_request", {});
        this.#listeners.set(id, () => resolveSeen());
      });
      const replied = this.#receiveReply(this.#shell);
      const ok = await Promise.race([seen.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1000))]);
      await replied;
      if (ok) return;
    }
  }

  async #readIopub(): Promise<void> {
    try {
      for await (const frames of this.#iopub) {
        let msg: Message;
        try {
          msg = decodeMessage(frames as Buffer[], this.#signer);
        } catch {
          continue; // a message we cannot verify is ignored
        }
        const parent = msg.parent_header.msg_id;
        if (parent) this.#listeners.get(parent)?.(msg);
      }
    } catch {
      // the socket was closed
    }
  }

  #send(socket: zmq.Dealer, msgType: string, content: Record<string, unknown>): string {
    const frames = encodeMessage({ msgType, content }, this.#session, this.#signer);
    const header = JSON.parse(frames[2].toString("utf8")) as { msg_id: string };
    void socket.send(frames);
    return header.msg_id;
  }

  async #receiveReply(socket: zmq.Dealer): Promise<Message> {
    const frames = await socket.receive();
    return decodeMessage(frames as Buffer[], this.#signer);
  }

  /**
   * Runs `code` and collects its IOPub output until the kernel is idle again; `onMessage` sees each
   * output message as it arrives (for live progress).
   */
  async execute(code: string, onMessage?: (msg: Message) => void): Promise<ExecutionMessages> {
    if (this.#exited) throw new Error(this.#exited);
    const iopub: Message[] = [];
    let msgId = "";
    const idle = new Promise<void>((resolveIdle) => {
      msgId = this.#send(this.#shell, "execute_request", {
        code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true,
      });
      this.#listeners.set(msgId, (msg) => {
        if (msg.header.msg_type === "status") {
          if (msg.content.execution_state === "idle") resolveIdle();
          return;
        }
        iopub.push(msg);
        onMessage?.(msg);
      });
    });
    const reply = await Promise.race([this.#receiveReply(this.#shell), this.#died]);
    await Promise.race([idle, this.#died]);
    this.#listeners.delete(msgId);
    return { iopub, reply: reply.content };
  }

  /** Asks the kernel to shut down (control channel), kills it if it has not exited after 5 s, removes the connection file. */
  async close(): Promise<void> {
    if (!this.#exited && this.#child.exitCode === null) {
      this.#send(this.#control, "shutdown_request", { restart: false });
      const exited = new Promise<void>((r) => this.#child.once("exit", () => r()));
      const late = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 5000))]);
      if (late) this.#child.kill("SIGKILL");
    }
    for (const s of [this.#shell, this.#control, this.#iopub]) s.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
