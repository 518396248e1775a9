/**
 * The kernel's second thread: it owns the heartbeat (REP echo) and control (ROUTER) sockets, so both
 * answer while the main thread is busy in a cell. `interrupt_request` is handled here completely (the
 * shared interrupt state, SIGINT to the process when needed, reply); other control requests go to the main thread, which
 * sends its replies back through this thread.
 */
import { parentPort, workerData } from "node:worker_threads";
import * as zmq from "zeromq";
import { Signer, WireError, decodeMessage, encodeMessage } from "./wire.ts";
import { requestInterrupt } from "./interrupt-state.ts";
import { ReplayGuard, signatureOf } from "./replay-guard.ts";

/** What the main thread passes to the worker. */
export interface ControlWorkerData {
  /** Heartbeat endpoint to bind. */
  heartbeat: string;
  /** Control endpoint to bind. */
  control: string;
  /** HMAC key. */
  key: string;
  /** Session id of the kernel. */
  session: string;
  /** The interrupt state shared with the main thread (see interrupt-state.ts). */
  interruptState: SharedArrayBuffer;
}

/** Messages from the worker to the main thread. */
export type FromControl =
  | { kind: "ready" }
  | { kind: "request"; frames: Uint8Array[] }
  | { kind: "interrupted"; parent: Record<string, unknown> }
  | { kind: "log"; text: string };

/** Messages from the main thread to the worker (`close`: close the sockets and end the thread). */
export type ToControl = { kind: "send"; frames: Uint8Array[] } | { kind: "close" };

async function main(): Promise<void> {
  const data = workerData as ControlWorkerData;
  const port = parentPort!;
  const post = (m: FromControl) => port.postMessage(m);
  const signer = new Signer(data.key);
  const interruptState = new Int32Array(data.interruptState);
  const heartbeat = new zmq.Reply({ linger: 0 });
  const control = new zmq.Router({ linger: 0 });
  await heartbeat.bind(data.heartbeat);
  await control.bind(data.control);

  let sending = Promise.resolve();
  const send = (frames: Uint8Array[]) => {
    sending = sending.then(() => control.send(frames)).catch((err: Error) => post({ kind: "log", text: `control send failed: ${err.message}` }));
  };

  const interruptReplays = new ReplayGuard();
  const loops: Promise<void>[] = [];
  // Stops the thread cleanly: queued replies (the shutdown_reply) go out, both sockets close in this
  // thread, their receive loops end, then the port closes and the thread's event loop runs dry.
  // Tearing the thread down with sockets open aborts the whole process (zeromq.js issue #411).
  const close = async () => {
    await sending;
    heartbeat.close();
    control.close();
    await Promise.allSettled(loops);
    port.close();
  };
  port.on("message", (m: ToControl) => {
    if (m.kind === "send") send(m.frames);
    else void close();
  });

  loops.push((async () => {
    for await (const frames of heartbeat) await heartbeat.send(frames);
  })().catch(() => undefined));

  loops.push((async () => {
    for await (const frames of control) {
      let msg;
      try {
        msg = decodeMessage(frames, signer);
      } catch (err) {
        // Bad signatures are dropped; other malformed messages go to the main thread for an error reply.
        if (err instanceof WireError && /signature/.test(err.message)) {
          post({ kind: "log", text: `control: dropped a message (${err.message})` });
          continue;
        }
        post({ kind: "request", frames });
        continue;
      }
      if (msg.header.msg_type !== "interrupt_request") {
        post({ kind: "request", frames });
        continue;
      }
      // Other requests are checked for replays on the main thread; interrupts here.
      if (!interruptReplays.accept(signatureOf(frames))) {
        post({ kind: "log", text: `control: dropped a replayed interrupt_request ${msg.header.msg_id}` });
        continue;
      }
      const interrupting = requestInterrupt(interruptState, () => process.kill(process.pid, "SIGINT"));
      post({ kind: "interrupted", parent: msg.header });
      await interrupting;
      send(encodeMessage({ msgType: "interrupt_reply", content: { status: "ok" }, parent: msg.header, identities: msg.identities }, data.session, signer));
    }
  })().catch(() => undefined));

  post({ kind: "ready" });
}

void main().catch((err: Error) => parentPort?.postMessage({ kind: "log", text: `control thread failed: ${err.stack ?? err.message}` }));
