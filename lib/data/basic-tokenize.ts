/**
 * The "basic" (pre-WordPiece) stage of BERT tokenization, matching Hugging Face's
 * `BasicTokenizer`: text cleaning, spaces around CJK ideographs, NFC normalisation, whitespace
 * split, optional lowercasing and accent stripping, and punctuation split.
 *
 * The work is split in two so that callers can cache the per-word part:
 * {@link normalizeText} runs on the whole text, {@link splitWord} on each whitespace word.
 */

/**
 * Characters removed by text cleaning: NUL, U+FFFD and every "C*" category character (Cc, Cf,
 * Cs, Co, Cn — Hugging Face's `_is_control` tests `category.startswith("C")`) except tab, newline
 * and carriage return, which count as whitespace.
 */
const REMOVED_CHARS = /(?![\t\n\r])[\u0000\uFFFD\p{C}]/gu;

/** Characters cleaning turns into a plain space: tab, newline, carriage return and category Zs. */
const WHITESPACE_CHARS = /[\t\n\r\p{Zs}]/gu;

/**
 * CJK ideographs, the exact code point ranges of Hugging Face's `_is_chinese_char` (CJK Unified
 * Ideographs and extensions A–E, compatibility ideographs and their supplement). Hangul, kana and
 * CJK punctuation are not in these ranges, as in the original.
 */
const CJK_CHARS =
  /[\u{4E00}-\u{9FFF}\u{3400}-\u{4DBF}\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B820}-\u{2CEAF}\u{F900}-\u{FAFF}\u{2F800}-\u{2FA1F}]/gu;

/** Punctuation: ASCII 33–47, 58–64, 91–96, 123–126 (symbols like `$` and `+` included) and Unicode P*. */
const PUNCTUATION_SPLIT = /([!-/:-@[-`{-~\p{P}])/u;

/** The ASCII part of {@link PUNCTUATION_SPLIT}, for words that are plain ASCII. */
const ASCII_PUNCTUATION_SPLIT = /([!-/:-@[-`{-~])/;

/** Nonspacing marks (category Mn), dropped by accent stripping after NFD decomposition. */
const NONSPACING_MARKS = /\p{Mn}/gu;

/** Any whitespace left after cleaning (JavaScript `\s` equals Python's `str.split()` on cleaned text). */
const WHITESPACE_RUN = /\s+/u;

/** Text that needs none of the Unicode-aware steps: printable ASCII only. */
const PLAIN_ASCII = /^[\x20-\x7e]*$/;

/** Options of the per-word stage. */
export interface WordSplitOptions {
  /** Lowercase the word (Hugging Face `do_lower_case`). */
  lowercase: boolean;
  /** NFD-decompose and drop nonspacing marks (Hugging Face `strip_accents`, resolved to a boolean). */
  stripAccents: boolean;
}

/**
 * Cleans `text` and splits it into whitespace-separated words: drops control characters, NUL and
 * U+FFFD, maps whitespace to spaces, surrounds CJK ideographs with spaces, applies NFC.
 */
export function normalizeText(text: string): string[] {
  if (PLAIN_ASCII.test(text)) return text.split(" ").filter((w) => w.length > 0);
  const t = text.replace(REMOVED_CHARS, "").replace(WHITESPACE_CHARS, " ").replace(CJK_CHARS, " $& ").normalize("NFC");
  return t.split(WHITESPACE_RUN).filter((w) => w.length > 0);
}

/** Lowercases and/or strips accents from one word, then splits it at every punctuation character. */
export function splitWord(word: string, options: WordSplitOptions): string[] {
  let w = word;
  if (options.lowercase) w = w.toLowerCase();
  if (PLAIN_ASCII.test(w)) return w.split(ASCII_PUNCTUATION_SPLIT).filter((piece) => piece.length > 0);
  if (options.stripAccents) w = w.normalize("NFD").replace(NONSPACING_MARKS, "");
  return w.split(PUNCTUATION_SPLIT).filter((piece) => piece.length > 0);
}
