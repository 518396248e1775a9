/**
 * complete_request and inspect_request (Tab and Shift+Tab), and the pager payload of a help request
 * (`name?`), all answered by the TypeScript language service.
 */
import { codePointsToUtf16, utf16ToCodePoints } from "../code-points.ts";
import type { LazyCompiler } from "../lazy-compiler.ts";
import type { HandlerTable } from "../request-dispatch.ts";

/** The complete_reply content for a complete_request's content. */
function complete(compiler: LazyCompiler, content: Record<string, unknown>): Record<string, unknown> {
  const code = String(content.code ?? "");
  const cursor = codePointsToUtf16(code, Number(content.cursor_pos ?? [...code].length));
  const r = compiler.get().complete(code, cursor);
  return {
    status: "ok",
    matches: r.candidates.map((c) => c.text),
    cursor_start: utf16ToCodePoints(code, r.start),
    cursor_end: utf16ToCodePoints(code, r.end),
    metadata: {
      _jupyter_types_experimental: r.candidates.map((c) => ({
        start: utf16ToCodePoints(code, r.start),
        end: utf16ToCodePoints(code, r.end),
        text: c.text,
        type: c.kind,
      })),
    },
  };
}

/** The inspect_reply content for an inspect_request's content: signature and TSDoc of the name at the cursor. */
function inspect(compiler: LazyCompiler, content: Record<string, unknown>): Record<string, unknown> {
  const code = String(content.code ?? "");
  const cursor = codePointsToUtf16(code, Number(content.cursor_pos ?? [...code].length));
  const service = compiler.get();
  const info = service.inspect(code, cursor) ?? (cursor > 0 ? service.inspect(code, cursor - 1) : undefined);
  if (!info) return { status: "ok", found: false, data: {}, metadata: {} };
  const plain = info.documentation ? `${info.signature}\n\n${info.documentation}` : info.signature;
  const markdown = "```typescript\n" + info.signature + "\n```" + (info.documentation ? `\n\n${info.documentation}` : "");
  return { status: "ok", found: true, data: { "text/plain": plain, "text/markdown": markdown }, metadata: {} };
}

/** A help request (`name?`): the name's documentation as a pager payload, or a line saying there is none. */
export function helpPage(compiler: LazyCompiler, name: string): Record<string, unknown>[] {
  const found = inspect(compiler, { code: name, cursor_pos: [...name].length });
  if (found.found !== true) {
    console.log(`no documentation found for '${name}'`);
    return [];
  }
  return [{ source: "page", data: found.data, start: 0 }];
}

/** The complete_request and inspect_request handlers. */
export function completeInspectHandlers(compiler: LazyCompiler): HandlerTable {
  return {
    complete_request: (req) => req.reply(complete(compiler, req.msg.content)),
    inspect_request: (req) => req.reply(inspect(compiler, req.msg.content)),
  };
}
