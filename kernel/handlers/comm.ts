/** comm_info_request, comm_open, comm_msg and comm_close: the frontend's side of Jupyter comms (comms.ts). */
import type { CellContext } from "../cell-context.ts";
import { currentOrLatestCell, runInCell } from "../cell-context.ts";
import type { CommHandlerFailed, CommRegistry } from "../comms.ts";
import type { Log } from "../log.ts";
import type { OutputRouter } from "../output-router.ts";
import type { HandlerTable } from "../request-dispatch.ts";
import type { TracebackMapper } from "../traceback.ts";
import type { Message } from "../wire.ts";

/** The context comm handlers run in: their output goes with the comm message. */
function commContext(msg: Message): CellContext {
  return { parent: msg.header, identities: msg.identities, allowStdin: false, abort: new AbortController(), interrupted: false };
}

/**
 * Reports a comm handler of kernel code that threw or rejected where the frontend shows the message
 * that called it (a widget's cell): a stderr line naming the handler and an error output like a cell
 * error, both with that comm message as parent (handlers run in its context, see below).
 *
 * @param output where the report goes.
 * @param traceback maps cell frames to cell lines.
 * @param log where a failure outside any message's context goes.
 */
export function reportCommHandlerFailure(output: OutputRouter, traceback: TracebackMapper, log: Log): CommHandlerFailed {
  return (err, where) => {
    const report = traceback.report(err);
    const parent = currentOrLatestCell()?.parent;
    if (!parent) {
      log(`${where} failed: ${report.traceback.join("\n")}`);
      return;
    }
    output.stream("stderr", `${where} failed: ${report.ename}: ${report.evalue}\n`, parent);
    output.send("error", { ...report }, parent);
  };
}

/**
 * The comm handlers.
 *
 * @param comms the kernel's comms and targets.
 * @param output where a comm_close for an unknown target goes.
 */
export function commHandlers(comms: CommRegistry, output: OutputRouter): HandlerTable {
  return {
    comm_info_request: (req) => req.reply({ status: "ok", comms: comms.info(req.msg.content.target_name as string | undefined) }),
    comm_open: ({ msg }) => {
      runInCell(commContext(msg), () => {
        if (!comms.handleOpen(String(msg.content.comm_id), String(msg.content.target_name), msg.content.data)) {
          output.send("comm_close", { comm_id: msg.content.comm_id, data: {} }, msg.header);
        }
      });
    },
    comm_msg: ({ msg }) => {
      runInCell(commContext(msg), () => comms.handleMessage(String(msg.content.comm_id), msg.content.data, msg.buffers));
    },
    comm_close: ({ msg }) => {
      runInCell(commContext(msg), () => comms.handleClose(String(msg.content.comm_id), msg.content.data));
    },
  };
}
