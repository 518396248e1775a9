/**
 * BERT's WordPiece tokenizer with Hugging Face `BertTokenizer` semantics: basic tokenization
 * (cleaning, CJK spacing, lowercasing, accent stripping, punctuation split; see basic-tokenize.ts),
 * greedy WordPiece (wordpiece.ts), special tokens that are never split, `[CLS] A [SEP] (B [SEP])`
 * with token type ids, longest-first truncation, padding and attention masks.
 */
import { readFileSync } from "node:fs";
import { normalizeText, splitWord, type WordSplitOptions } from "./basic-tokenize.ts";
import { wordPiece, type WordPieceOptions } from "./wordpiece.ts";
import { checkPositiveInt } from "../check.ts";

/** Options of {@link BertTokenizer}. */
export interface BertTokenizerOptions {
  /** Lowercase the text (Hugging Face `do_lower_case`). Default true. */
  lowercase?: boolean;
  /** Strip accents (NFD, drop nonspacing marks). Defaults to `lowercase`, as in Hugging Face. */
  stripAccents?: boolean;
  /** Longest sequence a model accepts; the cap when truncating without `maxLength`. Default 512. */
  modelMaxLength?: number;
  /** Words longer than this many code points become `[UNK]`. Default 100. */
  maxInputCharsPerWord?: number;
  /** Unknown token. Default `[UNK]`. */
  unkToken?: string;
  /** Classification token that starts every sequence. Default `[CLS]`. */
  clsToken?: string;
  /** Separator token that ends each segment. Default `[SEP]`. */
  sepToken?: string;
  /** Padding token. Default `[PAD]`. */
  padToken?: string;
  /** Mask token. Default `[MASK]`. */
  maskToken?: string;
}

/** How {@link BertTokenizer.encode} pads: to `maxLength`, to the longest sequence of a batch, or not at all. */
export type Padding = "max_length" | "longest" | false;

/**
 * How sequences longer than `maxLength` are cut: `true`/`"longest_first"` removes tokens one at a
 * time from the longer segment (from B on ties, as Hugging Face does); `"only_first"`/`"only_second"`
 * cut one segment only; `false` never truncates.
 */
export type Truncation = boolean | "longest_first" | "only_first" | "only_second";

/** Options of {@link BertTokenizer.encode} and {@link BertTokenizer.encodeBatch}. */
export interface EncodeOptions {
  /** Maximum total length including special tokens. */
  maxLength?: number;
  /** Padding strategy; default `false` for `encode`, `"longest"` for `encodeBatch`. */
  padding?: Padding;
  /** Truncation strategy; default `"longest_first"` when `maxLength` is given, else `false`. */
  truncation?: Truncation;
  /** Add `[CLS]`/`[SEP]`. Default true. */
  addSpecialTokens?: boolean;
}

/** The result of encoding one text or text pair: parallel number arrays of equal length. */
export interface Encoding {
  /** Token ids. */
  inputIds: number[];
  /** 0 for `[CLS]`, A and its `[SEP]`; 1 for B and its `[SEP]`; 0 for padding. */
  tokenTypeIds: number[];
  /** 1 for real tokens, 0 for padding. */
  attentionMask: number[];
}

/** One input of {@link BertTokenizer.encodeBatch}: a text, a `[textA, textB]` pair, or an object with `textA`/`textB`. */
export type TextInput = string | readonly [string, (string | undefined)?] | { textA: string; textB?: string };

/** Options of {@link BertTokenizer.decode}. */
export interface DecodeOptions {
  /** Leave out special tokens. Default false. */
  skipSpecialTokens?: boolean;
  /** Remove the spaces tokenization puts before `.`, `,`, `'s`, `n't` and so on. Default true. */
  cleanUpTokenizationSpaces?: boolean;
}

/** Entries kept in the word cache before it is emptied (bounds memory on endless streams). */
const WORD_CACHE_LIMIT = 500_000;

/** Escapes a string for use inside a regular expression. */
function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * BERT WordPiece tokenizer (Hugging Face `BertTokenizer` semantics).
 *
 * ```ts
 * const tok = BertTokenizer.fromVocabFile("vocab.txt");
 * tok.encode("Hello!", "How are you?", { maxLength: 16, padding: "max_length" });
 * ```
 */
export class BertTokenizer {
  /** Lowercasing enabled. */
  readonly lowercase: boolean;
  /** Accent stripping enabled. */
  readonly stripAccents: boolean;
  /** Cap used by truncation when no `maxLength` is given. */
  readonly modelMaxLength: number;
  /** The unknown token. */
  readonly unkToken: string;
  /** The classification token. */
  readonly clsToken: string;
  /** The separator token. */
  readonly sepToken: string;
  /** The padding token. */
  readonly padToken: string;
  /** The mask token. */
  readonly maskToken: string;
  /** Id of the unknown token. */
  readonly unkId: number;
  /** Id of the classification token. */
  readonly clsId: number;
  /** Id of the separator token. */
  readonly sepId: number;
  /** Id of the padding token. */
  readonly padId: number;
  /** Id of the mask token, or -1 when the vocabulary has none. */
  readonly maskId: number;
  /** Special tokens: matched verbatim in input text and never split. */
  readonly specialTokens: readonly string[];

  private readonly vocab: Map<string, number>;
  private readonly idToToken: readonly string[];
  private readonly specialSet: ReadonlySet<string>;
  private readonly specialIdSet: ReadonlySet<number>;
  private readonly specialSplit: RegExp;
  private readonly specialStarts: readonly string[];
  private readonly splitOptions: WordSplitOptions;
  private readonly pieceOptions: WordPieceOptions;
  private readonly wordCache = new Map<string, { tokens: string[]; ids: number[] }>();

  /** Builds a tokenizer from a vocabulary: token `i` of `vocab` gets id `i`. */
  constructor(vocab: readonly string[], options: BertTokenizerOptions = {}) {
    if (vocab.length === 0) throw new Error("BertTokenizer: the vocabulary is empty");
    this.lowercase = options.lowercase ?? true;
    this.stripAccents = options.stripAccents ?? this.lowercase;
    this.modelMaxLength = options.modelMaxLength ?? 512;
    checkPositiveInt("modelMaxLength", this.modelMaxLength);
    const maxInputCharsPerWord = options.maxInputCharsPerWord ?? 100;
    checkPositiveInt("maxInputCharsPerWord", maxInputCharsPerWord);
    this.unkToken = options.unkToken ?? "[UNK]";
    this.clsToken = options.clsToken ?? "[CLS]";
    this.sepToken = options.sepToken ?? "[SEP]";
    this.padToken = options.padToken ?? "[PAD]";
    this.maskToken = options.maskToken ?? "[MASK]";
    this.idToToken = vocab.slice();
    this.vocab = new Map();
    vocab.forEach((token, id) => this.vocab.set(token, id));
    const required = (name: string, token: string): number => {
      const id = this.vocab.get(token);
      if (id === undefined) throw new Error(`BertTokenizer: the vocabulary has no ${name} '${token}'`);
      return id;
    };
    this.unkId = required("unkToken", this.unkToken);
    this.clsId = required("clsToken", this.clsToken);
    this.sepId = required("sepToken", this.sepToken);
    this.padId = required("padToken", this.padToken);
    this.maskId = this.vocab.get(this.maskToken) ?? -1;
    this.specialTokens = [this.unkToken, this.sepToken, this.padToken, this.clsToken, this.maskToken].filter(
      (t) => this.vocab.has(t),
    );
    this.specialSet = new Set(this.specialTokens);
    this.specialIdSet = new Set(this.specialTokens.map((t) => this.vocab.get(t)!));
    const alternatives = [...this.specialTokens].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.specialSplit = new RegExp(`(${alternatives.join("|")})`);
    this.specialStarts = [...new Set(this.specialTokens.map((t) => t[0]!))];
    this.splitOptions = { lowercase: this.lowercase, stripAccents: this.stripAccents };
    this.pieceOptions = { unkToken: this.unkToken, maxInputCharsPerWord, continuationPrefix: "##" };
  }

  /**
   * Reads a `vocab.txt` (one token per line, id = line number from 0) and builds a tokenizer.
   * A trailing `\r` on a line is ignored; the final newline does not create an empty token.
   */
  static fromVocabFile(path: string, options: BertTokenizerOptions = {}): BertTokenizer {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new Error(`BertTokenizer.fromVocabFile: cannot read ${path}: ${(err as Error).message}`);
    }
    const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
    if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    try {
      return new BertTokenizer(lines, options);
    } catch (err) {
      throw new Error(`${(err as Error).message} (vocab file ${path})`);
    }
  }

  /** Number of tokens in the vocabulary. */
  get vocabSize(): number {
    return this.idToToken.length;
  }

  /** Id of `token`, or undefined when it is not in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  /** Splits `text` into WordPiece tokens (no `[CLS]`/`[SEP]` added). */
  tokenize(text: string): string[] {
    const out: string[] = [];
    this.forEachWord(text, (piece) => out.push(...piece.tokens));
    return out;
  }

  /** Maps tokens to ids; tokens not in the vocabulary map to the unknown token's id. */
  convertTokensToIds(tokens: readonly string[]): number[] {
    return tokens.map((t) => this.vocab.get(t) ?? this.unkId);
  }

  /** Maps ids to tokens; an id outside the vocabulary is an error. */
  convertIdsToTokens(ids: readonly number[]): string[] {
    return ids.map((id) => {
      const token = this.idToToken[id];
      if (token === undefined) throw new Error(`convertIdsToTokens: id ${id} is outside the vocabulary (size ${this.vocabSize})`);
      return token;
    });
  }

  /**
   * Encodes a text or text pair as `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, truncated and
   * padded as asked.
   */
  encode(textA: string, textB?: string, options: EncodeOptions = {}): Encoding {
    const encoding = this.encodeUnpadded(textA, textB, options);
    const padding = options.padding ?? false;
    if (padding === "max_length") {
      if (options.maxLength === undefined) throw new Error(`encode: padding "max_length" needs maxLength`);
      this.padTo(encoding, options.maxLength);
    } else if (padding !== "longest" && padding !== false) {
      throw new Error(`encode: padding must be "max_length", "longest" or false, got ${JSON.stringify(padding)}`);
    }
    return encoding;
  }

  /**
   * Encodes many texts or pairs; with padding `"longest"` (the default) all come back padded to the
   * longest of them, with `"max_length"` to `maxLength`.
   */
  encodeBatch(inputs: readonly TextInput[], options: EncodeOptions = {}): Encoding[] {
    const padding = options.padding ?? "longest";
    const encodings = inputs.map((input) => {
      if (typeof input === "string") return this.encode(input, undefined, { ...options, padding: false });
      if (Array.isArray(input)) return this.encode(input[0], input[1], { ...options, padding: false });
      const pair = input as { textA: string; textB?: string };
      return this.encode(pair.textA, pair.textB, { ...options, padding: false });
    });
    if (padding === "longest") {
      const longest = encodings.reduce((m, e) => Math.max(m, e.inputIds.length), 0);
      for (const e of encodings) this.padTo(e, longest);
    } else if (padding === "max_length") {
      if (options.maxLength === undefined) throw new Error(`encodeBatch: padding "max_length" needs maxLength`);
      for (const e of encodings) this.padTo(e, options.maxLength);
    } else if (padding !== false) {
      throw new Error(`encodeBatch: padding must be "max_length", "longest" or false, got ${JSON.stringify(padding)}`);
    }
    return encodings;
  }

  /**
   * Turns ids back into text: WordPiece continuations are glued to their word, special tokens kept
   * (or skipped) as separate words, and tokenization spaces cleaned up as Hugging Face does.
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? false;
    const segments: string[] = [];
    let run: string[] = [];
    const flush = () => {
      if (run.length > 0) segments.push(run.join(" ").replace(/ ##/g, "").trim());
      run = [];
    };
    for (const token of this.convertIdsToTokens(ids)) {
      if (this.specialSet.has(token)) {
        if (skip) continue;
        flush();
        segments.push(token);
      } else {
        run.push(token);
      }
    }
    flush();
    let text = segments.join(" ");
    if (options.cleanUpTokenizationSpaces ?? true) {
      text = text
        .replace(/ \./g, ".").replace(/ \?/g, "?").replace(/ !/g, "!").replace(/ ,/g, ",")
        .replace(/ ' /g, "'").replace(/ n't/g, "n't").replace(/ 'm/g, "'m").replace(/ 's/g, "'s")
        .replace(/ 've/g, "'ve").replace(/ 're/g, "'re");
    }
    return text;
  }

  /** True when `id` is one of the special tokens' ids. */
  isSpecialId(id: number): boolean {
    return this.specialIdSet.has(id);
  }

  /** Encodes without padding, applying truncation. */
  private encodeUnpadded(textA: string, textB: string | undefined, options: EncodeOptions): Encoding {
    if (typeof textA !== "string") throw new Error(`encode: textA must be a string, got ${typeof textA}`);
    if (textB !== undefined && typeof textB !== "string") throw new Error(`encode: textB must be a string or undefined, got ${typeof textB}`);
    if (options.maxLength !== undefined) checkPositiveInt("maxLength", options.maxLength);
    const addSpecial = options.addSpecialTokens ?? true;
    let idsA = this.idsOf(textA);
    let idsB = textB === undefined ? undefined : this.idsOf(textB);
    const truncation = options.truncation ?? (options.maxLength !== undefined ? "longest_first" : false);
    if (truncation !== false) {
      const maxLength = options.maxLength ?? this.modelMaxLength;
      const specials = addSpecial ? (idsB ? 3 : 2) : 0;
      const budget = maxLength - specials;
      if (budget < 0) throw new Error(`encode: maxLength ${maxLength} leaves no room for the ${specials} special tokens`);
      [idsA, idsB] = this.truncate(idsA, idsB, budget, truncation);
    }
    const inputIds: number[] = [];
    const tokenTypeIds: number[] = [];
    if (addSpecial) inputIds.push(this.clsId);
    inputIds.push(...idsA);
    if (addSpecial) inputIds.push(this.sepId);
    for (let i = 0; i < inputIds.length; i++) tokenTypeIds.push(0);
    if (idsB) {
      inputIds.push(...idsB);
      if (addSpecial) inputIds.push(this.sepId);
      while (tokenTypeIds.length < inputIds.length) tokenTypeIds.push(1);
    }
    return { inputIds, tokenTypeIds, attentionMask: inputIds.map(() => 1) };
  }

  /** Cuts `a` and `b` so that together they hold at most `budget` ids. */
  private truncate(a: number[], b: number[] | undefined, budget: number, truncation: Truncation): [number[], number[] | undefined] {
    const excess = a.length + (b?.length ?? 0) - budget;
    if (excess <= 0) return [a, b];
    if (truncation === true || truncation === "longest_first") {
      let lenA = a.length;
      let lenB = b?.length ?? 0;
      for (let i = 0; i < excess; i++) {
        if (!b || lenA > lenB) lenA--;
        else lenB--;
      }
      return [a.slice(0, lenA), b?.slice(0, lenB)];
    }
    if (truncation === "only_first") {
      if (excess > a.length) throw new Error(`encode: truncation "only_first" cannot remove ${excess} tokens from a first text of ${a.length}`);
      return [a.slice(0, a.length - excess), b];
    }
    if (truncation === "only_second") {
      if (!b || excess > b.length) throw new Error(`encode: truncation "only_second" cannot remove ${excess} tokens from a second text of ${b?.length ?? 0}`);
      return [a, b.slice(0, b.length - excess)];
    }
    throw new Error(`encode: truncation must be true, false, "longest_first", "only_first" or "only_second", got ${JSON.stringify(truncation)}`);
  }

  /** Pads an encoding in place (on the right) to `length`; longer encodings are left as they are. */
  private padTo(e: Encoding, length: number): void {
    while (e.inputIds.length < length) {
      e.inputIds.push(this.padId);
      e.tokenTypeIds.push(0);
      e.attentionMask.push(0);
    }
  }

  /** Token ids of `text` without special tokens added. */
  private idsOf(text: string): number[] {
    const out: number[] = [];
    this.forEachWord(text, (piece) => {
      for (const id of piece.ids) out.push(id);
    });
    return out;
  }

  /** Runs `visit` on the cached WordPiece result of every word of `text`, special tokens included. */
  private forEachWord(text: string, visit: (piece: { tokens: string[]; ids: number[] }) => void): void {
    const parts = this.specialStarts.some((c) => text.includes(c)) ? text.split(this.specialSplit) : [text];
    for (let p = 0; p < parts.length; p++) {
      const part = parts[p]!;
      if (p % 2 === 1) {
        visit({ tokens: [part], ids: [this.vocab.get(part)!] });
        continue;
      }
      for (const word of normalizeText(part)) visit(this.wordPieces(word));
    }
  }

  /** WordPiece tokens and ids of one whitespace-delimited word, memoised. */
  private wordPieces(word: string): { tokens: string[]; ids: number[] } {
    const cached = this.wordCache.get(word);
    if (cached) return cached;
    const tokens: string[] = [];
    if (this.specialSet.has(word)) {
      tokens.push(word);
    } else {
      for (const piece of splitWord(word, this.splitOptions)) tokens.push(...wordPiece(piece, this.vocab, this.pieceOptions));
    }
    const result = { tokens, ids: tokens.map((t) => this.vocab.get(t) ?? this.unkId) };
    if (this.wordCache.size >= WORD_CACHE_LIMIT) this.wordCache.clear();
    this.wordCache.set(word, result);
    return result;
  }
}
