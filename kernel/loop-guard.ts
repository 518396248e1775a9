/**
 * Interrupt points in cell code: every loop body of a compiled cell starts with a call to the guard,
 * which throws when the cell was interrupted. This stops loops that a signal cannot break — a loop
 * resumed after an `await`, or one left running by an interrupted cell. Insertions stay on the line
 * they belong to, so source-mapped line numbers are unchanged.
 */
import { createRequire } from "node:module";

/** Name of the guard function inside cell code. */
export const GUARD_NAME = "__fsamGuard";

interface Node {
  kind: number;
  pos: number;
  end: number;
  statement?: Node;
  getStart(): number;
}
interface Ts {
  createSourceFile(name: string, text: string, target: number, setParents: boolean, kind: number): Node;
  forEachChild(node: Node, cb: (n: Node) => void): void;
  isIterationStatement(n: Node, lookInLabeledStatements: boolean): boolean;
  isBlock(n: Node): boolean;
  ScriptTarget: { Latest: number };
  ScriptKind: { JS: number };
}

const ts = createRequire(import.meta.url)("@tslab/typescript-for-tslab") as Ts;

/** Returns `js` with a guard call at the start of every loop body. */
export function insertLoopGuards(js: string): string {
  const sf = ts.createSourceFile("cell.js", js, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const inserts: { at: number; text: string }[] = [];
  const visit = (n: Node): void => {
    if (ts.isIterationStatement(n, false) && n.statement) {
      const body = n.statement;
      if (ts.isBlock(body)) {
        inserts.push({ at: body.getStart() + 1, text: ` ${GUARD_NAME}();` });
      } else {
        inserts.push({ at: body.getStart(), text: `{ ${GUARD_NAME}(); ` });
        inserts.push({ at: body.end, text: " }" });
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  inserts.sort((a, b) => b.at - a.at);
  let out = js;
  for (const { at, text } of inserts) out = out.slice(0, at) + text + out.slice(at);
  return out;
}
