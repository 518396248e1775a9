/** history_request: past cells from the kernel's persistent history. */
import type { History } from "../history.ts";
import type { HandlerTable } from "../request-dispatch.ts";

/** The history_request handler, answering from `history`. */
export function historyHandlers(history: History): HandlerTable {
  return {
    history_request: (req) => req.reply({ status: "ok", history: history.query(req.msg.content as never) }),
  };
}
