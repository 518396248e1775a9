/**
 * IPython's help syntax, for TypeScript: a cell that is only `name?` or `?name` (a dotted name such as
 * `fsam.FisherSAM`) asks for that name's documentation, which the kernel shows in the pager (an
 * execute_reply payload with source "page") instead of running the cell. A lone trailing `?` is never
 * valid TypeScript, so no real code is taken for a help request.
 */

const DOTTED_NAME = String.raw`[A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*`;
const HELP = new RegExp(String.raw`^\s*(?:\?\s*(${DOTTED_NAME})|(${DOTTED_NAME})\s*\?)\s*$`);

/** The dotted name a help request asks about (spaces removed), or undefined when the code is not one. */
export function parseHelpRequest(code: string): string | undefined {
  const m = HELP.exec(code);
  if (!m) return undefined;
  return (m[1] ?? m[2]).replace(/\s+/g, "");
}
