/**
 * Cursor positions: the Jupyter protocol counts Unicode code points, JavaScript strings count UTF-16
 * code units (a character outside the Basic Multilingual Plane takes two).
 */

/** Converts a cursor in Unicode code points (the protocol's unit) to a UTF-16 index. */
export function codePointsToUtf16(text: string, cursor: number): number {
  let i = 0;
  for (let n = 0; n < cursor && i < text.length; n++) i += text.codePointAt(i)! > 0xffff ? 2 : 1;
  return i;
}

/** Converts a UTF-16 index to a count of Unicode code points. */
export function utf16ToCodePoints(text: string, index: number): number {
  return [...text.slice(0, Math.max(0, index))].length;
}
