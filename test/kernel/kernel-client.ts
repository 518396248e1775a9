/**
 * A small Jupyter client for the kernel's node tests: starts `fsam-lab kernel` on a fresh connection
 * file and talks to it over ZeroMQ with the kernel's own wire code (no Python needed).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zmq from "zeromq";
import { Signer, decodeMessage, encodeMessage, type Message } from "../../kernel/wire.ts";

const REPO = join(import.meta.dirname, "..", "..");

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** One kernel process and client sockets on its channels. */
export class TestKernel {
  readonly child: ChildProcess;
  readonly signer: Signer;
  readonly session = crypto.randomUUID();
  readonly shell = new zmq.Dealer({ linger: 0 });
  readonly control = new zmq.Dealer({ linger: 0 });
  readonly iopub = new zmq.Subscriber({ linger: 0 });
  /** Everything the kernel wrote on stderr (its log). */
  log = "";
  readonly #dir: string;
  readonly #iopubMessages: Message[] = [];
  readonly #shellMessages: Message[] = [];
  readonly #controlMessages: Message[] = [];
  readonly #waiters = new Set<() => void>();
  readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess, signer: Signer, dir: string) {
    this.child = child;
    this.signer = signer;
    this.#dir = dir;
    child.stderr!.on("data", (d: Buffer) => (this.log += d.toString()));
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))));
  }

  /**
   * Starts a kernel (FSAM_BACKEND=cpu) and waits until it answers a first cell.
   *
   * @param env extra environment of the kernel process.
   * @param command how to start it: the default runs `node bin/fsam-lab.js kernel -f <file>`.
   */
  static async start(env: Record<string, string> = {}, command?: (file: string) => { cmd: string; args: string[] }): Promise<TestKernel> {
    const dir = mkdtempSync(join(tmpdir(), "fsam-test-kernel-"));
    const key = crypto.randomUUID();
    const ports = { shell_port: await freePort(), iopub_port: await freePort(), stdin_port: await freePort(), control_port: await freePort(), hb_port: await freePort() };
    const file = join(dir, "connection.json");
    writeFileSync(file, JSON.stringify({ transport: "tcp", ip: "127.0.0.1", key, signature_scheme: "hmac-sha256", ...ports }));
    const how = command ? command(file) : { cmd: process.execPath, args: [join(REPO, "bin", "fsam-lab.js"), "kernel", "-f", file] };
    const child = spawn(how.cmd, how.args, {
      cwd: dir,
      env: { ...process.env, FSAM_BACKEND: "cpu", JUPYTER_DATA_DIR: dir, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const k = new TestKernel(child, new Signer(key), dir);
    k.shell.connect(`tcp://127.0.0.1:${ports.shell_port}`);
    k.control.connect(`tcp://127.0.0.1:${ports.control_port}`);
    k.iopub.connect(`tcp://127.0.0.1:${ports.iopub_port}`);
    k.iopub.subscribe();
    void k.#read(k.shell, k.#shellMessages);
    void k.#read(k.control, k.#controlMessages);
    void k.#read(k.iopub, k.#iopubMessages);
    // The iopub subscription takes a moment: repeat kernel_info until the kernel answers.
    const deadline = Date.now() + 240_000;
    for (;;) {
      const id = k.send("kernel_info_request", {});
      try {
        await k.waitFor(k.#shellMessages, (m) => m.parent_header.msg_id === id, 5_000);
        break;
      } catch (err) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`kernel did not start: ${(err as Error).message}\n${k.log}`);
      }
    }
    await k.execute("0");
    return k;
  }

  async #read(socket: zmq.Dealer | zmq.Subscriber, into: Message[]): Promise<void> {
    try {
      for await (const frames of socket) {
        const msg = decodeMessage(frames, this.signer);
        into.push(msg);
        for (const w of [...this.#waiters]) w();
      }
    } catch {
      // socket closed
    }
  }

  /** Waits for a message in `list` matching `pred` (removing it), at most `timeoutMs`. */
  waitFor(list: Message[], pred: (m: Message) => boolean, timeoutMs = 120_000): Promise<Message> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = list.findIndex(pred);
        if (i < 0) return false;
        const [m] = list.splice(i, 1);
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve(m);
        return true;
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a message`));
      }, timeoutMs);
      if (!check()) this.#waiters.add(check);
    });
  }

  /** Sends a request on shell (or control); returns its msg_id. */
  send(msgType: string, content: Record<string, unknown>, channel: "shell" | "control" = "shell"): string {
    const frames = encodeMessage({ msgType, content }, this.session, this.signer);
    return this.sendFrames(frames, channel);
  }

  /** Sends ready-made frames; returns the msg_id in their header. */
  sendFrames(frames: Buffer[], channel: "shell" | "control" = "shell"): string {
    void (channel === "shell" ? this.shell : this.control).send(frames);
    const i = frames.findIndex((f) => f.toString("latin1") === "<IDS|MSG>");
    return (JSON.parse(frames[i + 2].toString()) as { msg_id: string }).msg_id;
  }

  /** The shell (or control) reply to request `id`. */
  reply(id: string, channel: "shell" | "control" = "shell", timeoutMs?: number): Promise<Message> {
    return this.waitFor(channel === "shell" ? this.#shellMessages : this.#controlMessages, (m) => m.parent_header.msg_id === id, timeoutMs);
  }

  /** The iopub messages of request `id` up to its idle status. */
  async iopubFor(id: string): Promise<Message[]> {
    const out: Message[] = [];
    for (;;) {
      const m = await this.waitFor(this.#iopubMessages, (x) => x.parent_header.msg_id === id);
      out.push(m);
      if (m.header.msg_type === "status" && m.content.execution_state === "idle") return out;
    }
  }

  /** Waits for an iopub message matching `pred` (removing it), at most `timeoutMs`. */
  iopubMessage(pred: (m: Message) => boolean, timeoutMs?: number): Promise<Message> {
    return this.waitFor(this.#iopubMessages, pred, timeoutMs);
  }

  /** Waits for an iopub stream of request `id` containing `text`. */
  async waitForStream(id: string, text: string): Promise<void> {
    let seen = "";
    while (!seen.includes(text)) {
      const m = await this.waitFor(this.#iopubMessages, (x) => x.parent_header.msg_id === id && x.header.msg_type === "stream");
      seen += String(m.content.text);
    }
  }

  /** Runs a cell to its end: the reply, its stdout and stderr text and its result's text/plain. */
  async execute(code: string): Promise<{ reply: Record<string, unknown>; stdout: string; stderr: string; result?: string }> {
    const id = this.send("execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false });
    const reply = await this.reply(id);
    return { reply: reply.content, ...summarize(await this.iopubFor(id)) };
  }

  /** Sends interrupt_request on control and waits for the reply. */
  async interruptRequest(): Promise<void> {
    await this.reply(this.send("interrupt_request", {}, "control"), "control");
  }

  /** Shuts the kernel down (kills it if it does not exit) and removes its folder. */
  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.send("shutdown_request", { restart: false }, "control");
      const t = setTimeout(() => this.child.kill("SIGKILL"), 20_000);
      await this.exited;
      clearTimeout(t);
    }
    this.shell.close();
    this.control.close();
    this.iopub.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** The text of a cell's iopub messages. */
export function summarize(msgs: Message[]): { stdout: string; stderr: string; result?: string } {
  const text = (name: string) => msgs.filter((m) => m.header.msg_type === "stream" && m.content.name === name).map((m) => String(m.content.text)).join("");
  const result = msgs.find((m) => m.header.msg_type === "execute_result");
  const errors = msgs.filter((m) => m.header.msg_type === "error").map((m) => `${String(m.content.ename)}: ${String(m.content.evalue)}\n`).join("");
  return {
    stdout: text("stdout"),
    stderr: text("stderr") + errors,
    ...(result ? { result: String((result.content.data as Record<string, unknown>)["text/plain"]) } : {}),
  };
}
