/**
 * Shorthand properties that name a variable of an earlier cell. tslab's converter turns every
 * reference to an earlier cell's variable `x` into `exports.x`, but it asks the type checker for the
 * symbol at each identifier, and at the name of a shorthand property (`{ x }`, `({ x } = o)`) the
 * checker answers with the object's property, not the variable: the reference stayed a bare `x`
 * ("ReferenceError: x is not defined"). The converter walks the emitted code with
 * `ts.visitEachChild`; the compiler hands it the version made here, which spells such a shorthand out
 * as `x: exports.x` (`x: exports.x = init` in a destructuring assignment) and leaves every other node
 * to the real one.
 */

/** The few TypeScript nodes and functions used here (from tslab's bundled compiler). */
interface TsNode {
  kind: number;
}
interface TsIdentifier extends TsNode {
  readonly escapedText: string;
}
interface TsShorthand extends TsNode {
  readonly name: TsIdentifier;
  readonly objectAssignmentInitializer?: TsNode;
}
interface TsSymbol {
  declarations?: { getSourceFile(): { fileName: string } }[];
}
/** The checker method used here. */
export interface ShorthandChecker {
  getShorthandAssignmentValueSymbol(node: TsNode): TsSymbol | undefined;
}
type Visitor = (node: TsNode) => TsNode | TsNode[] | undefined;
/** The part of the TypeScript API this rewrite needs. */
export interface ShorthandTsApi {
  isShorthandPropertyAssignment(node: TsNode): boolean;
  isExpression(node: TsNode): boolean;
  idText(id: TsIdentifier): string;
  visitNode(node: TsNode, visitor: Visitor, test: (n: TsNode) => boolean): TsNode | undefined;
  visitEachChild(node: TsNode, visitor: Visitor, context: unknown): TsNode;
  factory: {
    createIdentifier(text: string): TsIdentifier;
    createPropertyAccessExpression(expression: TsNode, name: TsIdentifier): TsNode;
    createPropertyAssignment(name: TsIdentifier, initializer: TsNode): TsNode;
    createAssignment(left: TsNode, right: TsNode): TsNode;
  };
}

/**
 * Makes the `visitEachChild` the converter uses.
 *
 * @param ts the TypeScript API the converter runs on.
 * @param checker the checker of the program being emitted (called while the converter emits a cell).
 * @param prevDeclFile file name of the declarations of earlier cells (tslab's `__prev__.d.ts`).
 * @returns `ts.visitEachChild`, except that a shorthand property naming an earlier cell's variable
 *   becomes a property assignment reading (or, in a destructuring assignment, writing) `exports`.
 */
export function visitEachChildWithPrevShorthands(
  ts: ShorthandTsApi,
  checker: () => ShorthandChecker,
  prevDeclFile: string,
): ShorthandTsApi["visitEachChild"] {
  return (node, visitor, context) => {
    if (!ts.isShorthandPropertyAssignment(node)) return ts.visitEachChild(node, visitor, context);
    const shorthand = node as TsShorthand;
    const symbol = checker().getShorthandAssignmentValueSymbol(shorthand);
    const fromEarlierCell = (symbol?.declarations ?? []).some((d) => d.getSourceFile().fileName === prevDeclFile);
    if (!fromEarlierCell) return ts.visitEachChild(node, visitor, context);
    const f = ts.factory;
    const name = ts.idText(shorthand.name);
    const ref = f.createPropertyAccessExpression(f.createIdentifier("exports"), f.createIdentifier(name));
    const init = shorthand.objectAssignmentInitializer && ts.visitNode(shorthand.objectAssignmentInitializer, visitor, ts.isExpression);
    return f.createPropertyAssignment(f.createIdentifier(name), init ? f.createAssignment(ref, init) : ref);
  };
}
