/**
 * Greedy longest-match-first WordPiece, as in Hugging Face's `WordpieceTokenizer`: a word is cut
 * into the longest vocabulary prefix, then the longest `##`-prefixed continuation, and so on; a word
 * with a part that matches nothing, or longer than `maxInputCharsPerWord` code points, becomes the
 * unknown token as a whole.
 */

/** Options of {@link wordPiece}. */
export interface WordPieceOptions {
  /** The unknown token, e.g. `[UNK]`. */
  unkToken: string;
  /** Words longer than this many code points become `unkToken` (Hugging Face: 100). */
  maxInputCharsPerWord: number;
  /** Prefix of continuation pieces (`##`). */
  continuationPrefix: string;
}

/** Splits one word (no whitespace) into WordPiece tokens found in `vocab`. */
export function wordPiece(word: string, vocab: ReadonlyMap<string, number>, options: WordPieceOptions): string[] {
  const chars = Array.from(word);
  if (chars.length > options.maxInputCharsPerWord) return [options.unkToken];
  const pieces: string[] = [];
  let start = 0;
  while (start < chars.length) {
    let end = chars.length;
    let match: string | undefined;
    while (start < end) {
      const sub = chars.slice(start, end).join("");
      const candidate = start > 0 ? options.continuationPrefix + sub : sub;
      if (vocab.has(candidate)) {
        match = candidate;
        break;
      }
      end--;
    }
    if (match === undefined) return [options.unkToken];
    pieces.push(match);
    start = end;
  }
  return pieces;
}
