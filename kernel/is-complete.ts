/**
 * `is_complete_request`: is this code ready to run (console frontends ask before sending Enter)?
 * Parse errors only at the very end (a missing `}`, `)`, operand…) mean "incomplete"; any error
 * earlier means "invalid".
 */
import { createRequire } from "node:module";
import { parseHelpRequest } from "./help-request.ts";

interface ParsedFile {
  parseDiagnostics: { start: number; length: number }[];
}
interface Ts {
  createSourceFile(name: string, text: string, target: number, setParents: boolean, kind: number): ParsedFile;
  ScriptTarget: { Latest: number };
  ScriptKind: { TS: number };
}

const require = createRequire(import.meta.url);
const ts = require("@tslab/typescript-for-tslab") as Ts;
const { isCompleteCode } = require("tslab/dist/converter.js") as { isCompleteCode(src: string): { completed: boolean; indent?: string } };

/** The reply content of is_complete_request. */
export interface IsCompleteReply {
  /** complete, incomplete or invalid. */
  status: "complete" | "incomplete" | "invalid";
  /** For incomplete code: the indent of the next line. */
  indent?: string;
}

/** Classifies a code fragment. */
export function isComplete(code: string): IsCompleteReply {
  const trimmed = code.replace(/\s+$/, "");
  if (trimmed === "" || parseHelpRequest(trimmed) !== undefined) return { status: "complete" };
  const sf = ts.createSourceFile("cell.ts", trimmed, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const diags = sf.parseDiagnostics;
  if (diags.length === 0) return { status: "complete" };
  if (diags.every((d) => d.start >= trimmed.length || (d.start + d.length >= trimmed.length && /^[`/]/.test(trimmed.slice(d.start))))) {
    return { status: "incomplete", indent: isCompleteCode(code).indent ?? "" };
  }
  return { status: "invalid" };
}
