// BertTokenizer against the real bert-base-uncased vocab: one case per Hugging Face rule, with the
// expected ids looked up in the vocab file here (and the greedy choices justified by vocab lookups).
import test from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { BertTokenizer } from "../../lib/data/tokenizer.ts";

const dataDir = join(import.meta.dirname, "..", "..", "..", "shared", "data");
const vocabPath = join(dataDir, "vocab", "bert-base-uncased-vocab.txt");
const skip = existsSync(vocabPath) ? false : `bert-base-uncased vocab not found at ${vocabPath}`;

const lines = skip ? [] : readFileSync(vocabPath, "utf8").split("\n").slice(0, -1);
/** Id of a token, read from the vocab file (fails the test if absent). */
const id = (t: string): number => {
  const i = lines.indexOf(t);
  assert.ok(i >= 0, `token ${t} should be in the vocab`);
  return i;
};
const has = (t: string) => lines.includes(t);
const tok = skip ? (undefined as unknown as BertTokenizer) : BertTokenizer.fromVocabFile(vocabPath);

test("vocab file: size and special token ids", { skip }, () => {
  assert.equal(tok.vocabSize, 30522);
  assert.deepEqual([tok.padId, tok.unkId, tok.clsId, tok.sepId, tok.maskId], [0, 100, 101, 102, 103]);
});

test("lowercasing and punctuation split", { skip }, () => {
  assert.deepEqual(tok.tokenize("Hello, World!"), ["hello", ",", "world", "!"]);
  // ASCII symbols count as punctuation (33–47, 58–64, 91–96, 123–126) even when Unicode says S*.
  assert.deepEqual(tok.tokenize("a$b+c^d`e~f"), ["a", "$", "b", "+", "c", "^", "d", "`", "e", "~", "f"]);
  // Unicode P* splits (¿ Po, — Pd, « Pi, » Pf); € is Sc, not punctuation: it stays inside the word.
  assert.deepEqual(tok.tokenize("¿x—y«z»"), ["¿", "x", "—", "y", "«", "z", "»"]);
  assert.ok(has("x") && has("##€") && has("##y") && !has("x€y") && !has("x€"));
  assert.deepEqual(tok.tokenize("x€y"), ["x", "##€", "##y"]);
});

test("greedy longest-match WordPiece with ## continuations", { skip }, () => {
  // Longest vocab prefix of "unaffable" is "una"; of "ffable" (as ##) "##ffa"; then "##ble".
  for (const absent of ["unaffable", "unaffabl", "unaffab", "unaffa", "unaff", "unaf", "##ffable", "##ffabl", "##ffab"]) assert.ok(!has(absent), absent);
  const expected = ["una", "##ffa", "##ble"];
  assert.deepEqual(tok.tokenize("unaffable"), expected);
  assert.deepEqual(tok.convertTokensToIds(tok.tokenize("unaffable")), expected.map(id));
});

test("accents: NFD stripping follows lowercase by default, both switchable", { skip }, () => {
  assert.deepEqual(tok.tokenize("Héllo NAÏVE Café"), ["hello", "naive", "cafe"]);
  // Combining accent (NFD input) is composed by NFC, then stripped like the precomposed one.
  assert.deepEqual(tok.tokenize("cafe\u0301"), ["cafe"]);
  // Lowercase without accent stripping: "café" and "é"-continuations are not in the vocab → [UNK].
  assert.ok(!has("café") && !has("##é") && !has("é"));
  const keepAccents = new BertTokenizer(lines, { lowercase: true, stripAccents: false });
  assert.deepEqual(keepAccents.tokenize("Café"), ["[UNK]"]);
  // No lowercasing: uppercase letters are not in the uncased vocab.
  assert.ok(!has("H") && !has("##H"));
  const cased = new BertTokenizer(lines, { lowercase: false });
  assert.equal(cased.stripAccents, false);
  assert.deepEqual(cased.tokenize("Hello hello"), ["[UNK]", "hello"]);
  const strip = new BertTokenizer(lines, { lowercase: false, stripAccents: true });
  assert.deepEqual(strip.tokenize("café"), ["cafe"]);
});

test("CJK ideographs become single-character words; kana does not", { skip }, () => {
  assert.ok(has("博") && !has("推") && !has("##推"));
  // Without CJK spacing "博推" would be one word whose tail has no ## piece → a single [UNK].
  assert.deepEqual(tok.tokenize("ah博推zz"), ["ah", "博", "[UNK]", "z", "##z"]);
  // Hiragana is outside HF's CJK ranges: "あい" stays one word and WordPiece continues with ##い.
  assert.ok(has("あ") && has("##い"));
  assert.deepEqual(tok.tokenize("あい"), ["あ", "##い"]);
});

test("text cleaning: NUL, U+FFFD and control/format chars dropped, whitespace normalised", { skip }, () => {
  assert.ok(has("ab") && has("foo") && has("##bar") && !has("foobar"));
  assert.deepEqual(tok.tokenize("a\u0000b"), ["ab"]);
  assert.deepEqual(tok.tokenize("a\uFFFDb"), ["ab"]);
  assert.deepEqual(tok.tokenize("a\u0007b"), ["ab"]); // Cc
  assert.deepEqual(tok.tokenize("foo\u200Bbar"), ["foo", "##bar"]); // Cf (zero-width space)
  assert.deepEqual(tok.tokenize(" hello\tworld\r\nfoo\u00A0bar\u3000a "), ["hello", "world", "foo", "bar", "a"]);
  assert.deepEqual(tok.tokenize(""), []);
  assert.deepEqual(tok.tokenize(" \t\n"), []);
});

test("special tokens are never split, even inside words; lowercase lookalikes are", { skip }, () => {
  assert.deepEqual(tok.tokenize("[CLS] hello[MASK]world [SEP]"), ["[CLS]", "hello", "[MASK]", "world", "[SEP]"]);
  assert.ok(has("cl") && has("##s") && !has("cls"));
  assert.deepEqual(tok.tokenize("[cls]"), ["[", "cl", "##s", "]"]);
});

test("words over 100 characters and unmatched words become [UNK]", { skip }, () => {
  const w100 = "a".repeat(100);
  const pieces = tok.tokenize(w100);
  assert.ok(!pieces.includes("[UNK]"));
  assert.equal(pieces.map((p) => p.replace(/^##/, "")).join(""), w100);
  assert.deepEqual(tok.tokenize("a".repeat(101)), ["[UNK]"]);
  assert.ok(!has("☃") && !has("##☃"));
  assert.deepEqual(tok.tokenize("hello☃ world"), ["[UNK]", "world"]);
});

test("encode: [CLS] A [SEP] B [SEP], token types and attention mask", { skip }, () => {
  const single = tok.encode("Hello world");
  assert.deepEqual(single.inputIds, [id("[CLS]"), id("hello"), id("world"), id("[SEP]")]);
  assert.deepEqual(single.tokenTypeIds, [0, 0, 0, 0]);
  assert.deepEqual(single.attentionMask, [1, 1, 1, 1]);
  const pair = tok.encode("Hello", "the world!");
  assert.deepEqual(pair.inputIds, [101, id("hello"), 102, id("the"), id("world"), id("!"), 102]);
  assert.deepEqual(pair.tokenTypeIds, [0, 0, 0, 1, 1, 1, 1]);
  assert.deepEqual(pair.attentionMask, [1, 1, 1, 1, 1, 1, 1]);
});

test("longest-first truncation cuts the longer text, the second on ties", { skip }, () => {
  const a = "one two three four five six"; // 6 tokens
  const b = "seven eight nine"; // 3 tokens
  // Budget 8 - 3 specials = 5; remove 4: A 6→5→4→3 (A longer each time), then tie 3=3 → B 3→2.
  const e = tok.encode(a, b, { maxLength: 8 });
  assert.deepEqual(e.inputIds, [101, id("one"), id("two"), id("three"), 102, id("seven"), id("eight"), 102]);
  assert.deepEqual(e.tokenTypeIds, [0, 0, 0, 0, 0, 1, 1, 1]);
  const single = tok.encode(a, undefined, { maxLength: 4 });
  assert.deepEqual(single.inputIds, [101, id("one"), id("two"), 102]);
  const onlySecond = tok.encode(a, b, { maxLength: 10, truncation: "only_second" });
  assert.deepEqual(onlySecond.inputIds.slice(-2), [id("seven"), 102]);
  const untruncated = tok.encode(a, b, { maxLength: 8, truncation: false });
  assert.equal(untruncated.inputIds.length, 12);
  assert.throws(() => tok.encode("a", "b", { maxLength: 2 }), /maxLength 2 leaves no room for the 3 special tokens/);
});

test("padding to max_length and to the longest of a batch", { skip }, () => {
  const e = tok.encode("hello", undefined, { maxLength: 6, padding: "max_length" });
  assert.deepEqual(e.inputIds, [101, id("hello"), 102, 0, 0, 0]);
  assert.deepEqual(e.attentionMask, [1, 1, 1, 0, 0, 0]);
  assert.deepEqual(e.tokenTypeIds, [0, 0, 0, 0, 0, 0]);
  assert.throws(() => tok.encode("hello", undefined, { padding: "max_length" }), /needs maxLength/);
  const batch = tok.encodeBatch(["hello", ["hello world", "again"], { textA: "a", textB: "b c" }]);
  assert.deepEqual(batch.map((x) => x.inputIds.length), [6, 6, 6]);
  assert.deepEqual(batch[0]!.inputIds, [101, id("hello"), 102, 0, 0, 0]);
  assert.deepEqual(batch[1]!.tokenTypeIds, [0, 0, 0, 0, 1, 1]);
  assert.deepEqual(batch[2]!.attentionMask, [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(batch[0]!.attentionMask, [1, 1, 1, 0, 0, 0]);
});

test("ids ↔ tokens and decode", { skip }, () => {
  assert.deepEqual(tok.convertTokensToIds(["hello", "no-such-token"]), [id("hello"), 100]);
  assert.deepEqual(tok.convertIdsToTokens([101, id("hello")]), ["[CLS]", "hello"]);
  assert.throws(() => tok.convertIdsToTokens([30522]), /outside the vocabulary/);
  const ids = tok.encode("Hello, unaffable world! I'm fine.", undefined, { maxLength: 20, padding: "max_length" }).inputIds;
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), "hello, unaffable world! i'm fine.");
  assert.equal(tok.decode(ids.slice(0, 4)), "[CLS] hello, una");
  assert.equal(tok.decode([id("a"), id(","), id("b")], { cleanUpTokenizationSpaces: false }), "a , b");
});

test("vocab problems are reported clearly", { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), "fsam-vocab-"));
  assert.throws(() => BertTokenizer.fromVocabFile(join(dir, "missing.txt")), /cannot read .*missing\.txt/);
  const noUnk = join(dir, "vocab.txt");
  writeFileSync(noUnk, "[PAD]\n[CLS]\n[SEP]\nhello\n");
  assert.throws(() => BertTokenizer.fromVocabFile(noUnk), /no unkToken '\[UNK\]' \(vocab file .*vocab\.txt\)/);
  const crlf = join(dir, "crlf.txt");
  writeFileSync(crlf, "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n");
  const small = BertTokenizer.fromVocabFile(crlf);
  assert.equal(small.vocabSize, 5);
  assert.deepEqual(small.encode("hello bye").inputIds, [2, 4, 1, 3]);
});

test("tokenizes 10k SST-2 sentences, each framed by [CLS] … [SEP] (throughput: bench/tokenizer.ts)", { skip: skip || !existsSync(join(dataDir, "glue", "SST-2", "train.tsv")) && "SST-2 train.tsv not found" }, () => {
  const sentences = readFileSync(join(dataDir, "glue", "SST-2", "train.tsv"), "utf8").split("\r\n").slice(1, 10001).map((l) => l.split("\t")[1]!);
  assert.equal(sentences.length, 10000);
  const fresh = BertTokenizer.fromVocabFile(vocabPath);
  let tokens = 0;
  for (const s of sentences) {
    const ids = fresh.encode(s).inputIds;
    assert.equal(ids[0], fresh.clsId, s);
    assert.equal(ids[ids.length - 1], fresh.sepId, s);
    tokens += ids.length;
  }
  assert.ok(tokens > 100000, `expected over 100k tokens, got ${tokens}`);
});
