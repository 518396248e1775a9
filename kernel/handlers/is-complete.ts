/** is_complete_request: whether code is a complete cell (the console's Enter key). */
import { isComplete } from "../is-complete.ts";
import type { HandlerTable } from "../request-dispatch.ts";

/** The is_complete_request handler. */
export const isCompleteHandlers: HandlerTable = {
  is_complete_request: (req) => req.reply({ ...isComplete(String(req.msg.content.code ?? "")) }),
};
