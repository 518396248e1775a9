// Task readers on the real GLUE/SuperGLUE files (row and label counts from shared/data/README.md
// or counted there with `cut -f | sort | uniq -c`) and on malformed fixtures written here.
import test from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import type { Example } from "../../lib/types.ts";
import { loadTask } from "../../lib/data/readers.ts";
import { getTask, tasks } from "../../lib/data/tasks.ts";
import { toDataFrame } from "../../lib/data/dataframe.ts";

const dataDir = join(import.meta.dirname, "..", "..", "..", "shared", "data");
const skip = existsSync(join(dataDir, "glue")) ? false : `GLUE data not found at ${dataDir}`;

/** Label histogram as {label: count}. */
function counts(examples: readonly Example[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const e of examples) out[e.label] = (out[e.label] ?? 0) + 1;
  return out;
}

/** A fresh temp dir with the given files. */
function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "fsam-data-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const realFiles: [task: string, split: string, rows: number, labels: Record<number, number> | null][] = [
  ["rte", "train", 2490, { 0: 1249, 1: 1241 }],
  ["rte", "dev", 277, { 0: 146, 1: 131 }],
  ["cola", "train", 8551, { 0: 2528, 1: 6023 }],
  ["cola", "dev", 1043, { 0: 322, 1: 721 }],
  ["mrpc", "train", 3668, { 0: 1194, 1: 2474 }],
  ["mrpc", "dev", 408, { 0: 129, 1: 279 }],
  ["stsb", "train", 5749, null],
  ["stsb", "dev", 1500, null],
  ["sst2", "train", 67349, { 0: 29780, 1: 37569 }],
  ["sst2", "dev", 872, { 0: 428, 1: 444 }],
  ["wnli", "train", 635, { 0: 323, 1: 312 }],
  ["wnli", "dev", 71, { 0: 40, 1: 31 }],
  ["cb", "train", 250, { 0: 115, 1: 119, 2: 16 }],
  ["copa", "train", 368, { 0: 181, 1: 187 }],
];

for (const [task, split, rows, labels] of realFiles) {
  test(`real file ${task} ${split}: ${rows} rows and its label counts`, { skip }, () => {
    const examples = loadTask(task, dataDir, split);
    assert.equal(examples.length, rows);
    if (labels) assert.deepEqual(counts(examples), labels);
    const spec = getTask(task);
    for (const e of examples) {
      assert.equal(typeof e.textA, "string");
      assert.equal(e.textB !== undefined, spec.inputColumns.length > 1, "pair tasks have textB");
      assert.ok(!e.textA.endsWith("\r") && !(e.textB ?? "").endsWith("\r"));
    }
  });
}

test("STS-B: headerless train and headed dev give scores in [0, 5] and the index column", { skip }, () => {
  const train = loadTask("stsb", join(dataDir, "glue", "STS-B"), "train");
  const dev = loadTask("stsb", join(dataDir, "glue", "STS-B", "dev.tsv"));
  assert.deepEqual(train[0], { textA: "A plane is taking off.", textB: "An air plane is taking off.", label: 5, idx: 0 });
  assert.equal(train[1]!.label, 3.8);
  assert.equal(dev[0]!.textB, "A man wearing a hard hat is dancing.");
  for (const e of [...train, ...dev]) assert.ok(e.label >= 0 && e.label <= 5, `score ${e.label}`);
  // Quotes are plain text (QUOTE_NONE): as many texts hold a quote as raw fields do.
  const raw = readFileSync(join(dataDir, "glue", "STS-B", "train.tsv"), "utf8").split("\n").filter(Boolean);
  const rawQuoted = raw.flatMap((l) => l.split("\t").slice(7, 9)).filter((f) => f.includes('"')).length;
  assert.ok(rawQuoted > 0);
  assert.equal(train.flatMap((e) => [e.textA, e.textB!]).filter((t) => t.includes('"')).length, rawQuoted);
});

test("MRPC: BOM header recognised, unbalanced quotes kept as text", { skip }, () => {
  const train = loadTask("mrpc", dataDir, "train");
  const dev = loadTask("mrpc", dataDir, "validation");
  // README: 1,305 fields in train and 139 in dev contain '"'.
  assert.equal(train.flatMap((e) => [e.textA, e.textB!]).filter((t) => t.includes('"')).length, 1305);
  assert.equal(dev.flatMap((e) => [e.textA, e.textB!]).filter((t) => t.includes('"')).length, 139);
  assert.ok(dev[0]!.textB!.startsWith('"The foodservice pie business'));
});

test("RTE (HF export): CSV-quoted fields are unquoted", { skip }, () => {
  const path = join(dataDir, "glue", "RTE", "train.tsv");
  const lines = readFileSync(path, "utf8").split("\n").slice(1).filter(Boolean);
  const quotedLine = lines.find((l) => l.split("\t").some((f) => f.startsWith('"') && f.includes('""')))!;
  assert.ok(quotedLine, "train.tsv has a quoted field with an escaped quote");
  const fields = quotedLine.split("\t").map((f) => (f.startsWith('"') && f.endsWith('"') ? f.slice(1, -1).replace(/""/g, '"') : f));
  const examples = loadTask("rte", path);
  const e = examples.find((x) => x.idx === Number(fields[3]))!;
  assert.equal(e.textA, fields[0]);
  assert.equal(e.textB, fields[1]);
  assert.equal(e.label, Number(fields[2]));
  assert.ok(!examples.some((x) => x.textA.startsWith('"') && x.textA.endsWith('"') && x.textA.includes('""')));
});

test("CB string labels map to the registry order; COPA becomes one example per item", { skip }, () => {
  const cb = loadTask("cb", dataDir);
  assert.deepEqual(tasks.cb!.labelNames, ["entailment", "contradiction", "neutral"]);
  assert.equal(cb[0]!.label, 0);
  assert.equal(cb[0]!.textB, "the language was peeled down");
  const copa = loadTask("COPA", join(dataDir, "superglue"), "train");
  assert.deepEqual(copa[0], {
    textA: "My body cast a shadow over the grass. What was the cause?",
    textB: "The sun was rising. [SEP] The grass was cut.",
    label: 0,
    idx: 0,
  });
  assert.ok(copa.some((e) => e.textA.endsWith("What happened as a result?")));
});

test("a file of another task is refused, naming the task it looks like", { skip }, () => {
  const mrpc = join(dataDir, "glue", "MRPC", "dev.tsv");
  assert.throws(() => loadTask("rte", mrpc), (err: Error) => {
    assert.match(err.message, /MRPC\/dev\.tsv is not a RTE file/);
    assert.match(err.message, /looks like a MRPC file/);
    return true;
  });
  assert.throws(() => loadTask("cola", join(dataDir, "glue", "STS-B", "train.tsv")), /is not a CoLA file.*looks like a STS-B file/);
  assert.throws(() => loadTask("stsb", join(dataDir, "glue", "CoLA", "dev.tsv")), /is not a STS-B file.*looks like a CoLA file/);
  assert.throws(() => loadTask("copa", join(dataDir, "superglue", "CB", "train.jsonl")), /is not a COPA file: its first object has the keys.*looks like a .*CB/);
  // Same columns, other label set: the first CB "contradiction" row is reported with its line.
  assert.throws(() => loadTask("superglue-rte", join(dataDir, "superglue", "CB", "train.jsonl")), /CB\/train\.jsonl:\d+: label "contradiction" is not valid for RTE \(SuperGLUE\)/);
});

test("malformed rows are reported with file and line", () => {
  const dir = fixture({
    "fields.tsv": "sentence1\tsentence2\tlabel\tidx\na\tb\t0\t0\nc\td\t1\n",
    "label.tsv": "sentence1\tsentence2\tlabel\tidx\na\tb\t2\t0\n",
    "names.tsv": "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tc\td\tmaybe\n",
    "score.tsv": "sentence1\tsentence2\tlabel\tidx\na\tb\t4.5\t0\nc\td\thigh\t1\n",
    "quote.tsv": "sentence1\tsentence2\tlabel\tidx\n\"a\tb\t0\t0\n",
    "bad.jsonl": '{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": 0}\n{"premise": "p", \n',
    "missing.jsonl": '{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": 0}\n\n{"premise": "p", "label": "neutral"}\n',
    "idx.tsv": "index\tsentence1\tsentence2\tlabel\nx\ta\tb\tentailment\n",
    "empty.tsv": "",
  });
  const at = (f: string) => join(dir, f).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  assert.throws(() => loadTask("rte", join(dir, "fields.tsv")), new RegExp(`^Error: ${at("fields.tsv")}:3: expected 4 tab-separated fields \\(sentence1, sentence2, label, idx\\), found 3$`));
  assert.throws(() => loadTask("rte", join(dir, "label.tsv")), new RegExp(`${at("label.tsv")}:2: label "2" is not valid for RTE: expected an id 0..1`));
  assert.throws(() => loadTask("rte", join(dir, "names.tsv")), new RegExp(`${at("names.tsv")}:3: label "maybe" is not valid for RTE: expected one of entailment, not_entailment`));
  assert.throws(() => loadTask("stsb", join(dir, "score.tsv")), new RegExp(`${at("score.tsv")}:3: label "high" is not a number`));
  assert.throws(() => loadTask("rte", join(dir, "quote.tsv")), new RegExp(`${at("quote.tsv")}:2: quoted field opened here is never closed`));
  assert.throws(() => loadTask("cb", join(dir, "bad.jsonl")), new RegExp(`${at("bad.jsonl")}:2: invalid JSON`));
  assert.throws(() => loadTask("cb", join(dir, "missing.jsonl")), new RegExp(`${at("missing.jsonl")}:3: missing key\\(s\\) hypothesis`));
  assert.throws(() => loadTask("rte", join(dir, "idx.tsv")), new RegExp(`${at("idx.tsv")}:2: index "x" is not an integer`));
  assert.throws(() => loadTask("rte", join(dir, "empty.tsv")), /empty/);
  const skipped: string[] = [];
  const kept = loadTask("rte", join(dir, "fields.tsv"), "train", { malformed: "skip", onSkip: (m) => skipped.push(m) });
  assert.equal(kept.length, 1);
  assert.equal(skipped.length, 1);
  assert.match(skipped[0]!, /fields\.tsv:3: expected 4/);
});

test("a file with no rows is refused, naming the file: header only, blank lines only, all rows skipped", () => {
  const dir = fixture({
    "header.tsv": "sentence1\tsentence2\tlabel\tidx\n",
    "header-blank.tsv": "index\tsentence1\tsentence2\tlabel\n\n\n",
    "bad-rows.tsv": "sentence1\tsentence2\tlabel\tidx\na\tb\t7\t0\n",
  });
  const at = (f: string) => join(dir, f).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  assert.throws(() => loadTask("rte", join(dir, "header.tsv")), new RegExp(`^Error: ${at("header.tsv")}: no RTE examples: it has a header line but no rows$`));
  assert.throws(() => loadTask("rte", join(dir, "header-blank.tsv")), new RegExp(`${at("header-blank.tsv")}: no RTE examples`));
  const skipped: string[] = [];
  assert.throws(() => loadTask("rte", join(dir, "bad-rows.tsv"), "train", { malformed: "skip", onSkip: (m) => skipped.push(m) }), /bad-rows\.tsv: no RTE examples: all 1 rows were malformed/);
  assert.equal(skipped.length, 1);
});

test("official GLUE layouts of tasks without real files here (MNLI, QNLI, QQP) and SuperGLUE JSONL", () => {
  const mnliHeader = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label";
  const devHeader = mnliHeader.replace("label1", "label1\tlabel2\tlabel3\tlabel4\tlabel5");
  const dir = fixture({
    "MNLI/train.tsv": `${mnliHeader}\n0\t1\t1e\tgov\t(x)\t(y)\t(X)\t(Y)\tHe "said" it.\tHe spoke.\tentailment\tentailment\n1\t2\t2n\tfiction\t.\t.\t.\t.\tA\tB\tneutral\tneutral\n`,
    "MNLI/dev_matched.tsv": `${devHeader}\n5\t1\t1c\tgov\t.\t.\t.\t.\tA\tB\tcontradiction\tcontradiction\tneutral\tcontradiction\tcontradiction\tcontradiction\n`,
    "MNLI/dev_mismatched.tsv": `${devHeader}\n7\t1\t1e\tslate\t.\t.\t.\t.\tC\tD\tentailment\tentailment\tentailment\tentailment\tentailment\tentailment\n`,
    "QNLI/dev.tsv": "index\tquestion\tsentence\tlabel\n0\tWho?\tHe did.\tentailment\n1\tWhy?\tNo.\tnot_entailment\n",
    "QQP/train.tsv": "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n12\t1\t2\tHow?\t\"How\" exactly?\t1\n",
    "BoolQ/val.jsonl": '{"question": "is it", "passage": "it is", "idx": 0, "label": true}\n{"question": "is it not", "passage": "it is", "idx": 1, "label": false}\n',
    "WiC/train.jsonl": '{"word": "place", "sentence1": "Do you know the place?", "sentence2": "Place it here.", "idx": 0, "label": false, "start1": 16, "end1": 21, "start2": 0, "end2": 5, "version": 1.1}\n',
    "RTE/train.jsonl": '{"premise": "p", "hypothesis": "h", "label": "not_entailment", "idx": 3}\n',
    "sst2-hf.jsonl": '{"sentence": "fine", "label": 1, "idx": 0}\n',
    "hf.tsv": 'sentence1\tsentence2\tlabel\tidx\n"multi\nline ""quoted"""\tb\t1\t0\nc\td\t0\t1\n',
  });
  const train = loadTask("mnli", dir, "train");
  assert.deepEqual(train, [
    { textA: 'He "said" it.', textB: "He spoke.", label: 0, idx: 0 },
    { textA: "A", textB: "B", label: 1, idx: 1 },
  ]);
  assert.deepEqual(loadTask("mnli-m", dir, "dev").map((e) => [e.label, e.idx]), [[2, 5]]);
  assert.deepEqual(loadTask("MNLI-mm", dir, "validation").map((e) => [e.textA, e.label]), [["C", 0]]);
  assert.deepEqual(loadTask("mnli", dir, "dev_mismatched").length, 1);
  assert.deepEqual(loadTask("qnli", dir, "dev").map((e) => e.label), [0, 1]);
  assert.deepEqual(loadTask("qqp", dir), [{ textA: "How?", textB: '"How" exactly?', label: 1, idx: 12 }]);
  assert.deepEqual(loadTask("boolq", dir, "dev").map((e) => [e.textA, e.textB, e.label]), [["is it", "it is", 1], ["is it not", "it is", 0]]);
  assert.deepEqual(loadTask("wic", dir), [{ textA: "place [SEP] Do you know the place?", textB: "Place it here.", label: 0, idx: 0 }]);
  assert.deepEqual(loadTask("superglue/rte", dir), [{ textA: "p", textB: "h", label: 1, idx: 3 }]);
  assert.deepEqual(loadTask("sst-2", join(dir, "sst2-hf.jsonl")), [{ textA: "fine", label: 1, idx: 0 }]);
  // CSV quoting: a quoted field may span lines; the next record keeps its own line number.
  const hf = loadTask("mrpc", join(dir, "hf.tsv"));
  assert.deepEqual(hf[0], { textA: 'multi\nline "quoted"', textB: "b", label: 1, idx: 0 });
  assert.throws(() => loadTask("qnli", dir, "train"), /QNLI: no train file \(train\.tsv.*download-glue qnli/);
  assert.throws(() => loadTask("mnli", dir, "nope"), /MNLI has no split 'nope'/);
  assert.throws(() => loadTask("nope", dir), /unknown task 'nope'/);
});

test("registry: labels, metrics and headline scores", () => {
  const expected: Record<string, [numLabels: number, headline: string[]]> = {
    cola: [2, ["matthews"]], sst2: [2, ["accuracy"]], mrpc: [2, ["accuracy", "f1"]], stsb: [1, ["pearson", "spearman"]],
    qqp: [2, ["accuracy", "f1"]], mnli: [3, ["accuracy"]], "mnli-m": [3, ["accuracy"]], "mnli-mm": [3, ["accuracy"]],
    qnli: [2, ["accuracy"]], rte: [2, ["accuracy"]], wnli: [2, ["accuracy"]], boolq: [2, ["accuracy"]],
    cb: [3, ["accuracy", "macroF1"]], copa: [2, ["accuracy"]], "superglue-rte": [2, ["accuracy"]], wic: [2, ["accuracy"]], default: [2, ["accuracy"]],
  };
  assert.deepEqual(Object.keys(tasks).sort(), Object.keys(expected).sort());
  for (const [name, [numLabels, headline]] of Object.entries(expected)) {
    const t = tasks[name]!;
    assert.equal(t.numLabels, numLabels, name);
    assert.deepEqual([...t.headline], headline, name);
    assert.equal(t.isRegression, numLabels === 1);
    assert.equal(t.labelNames.length, t.isRegression ? 0 : numLabels);
  }
  assert.equal(getTask("SST-2").name, "sst2");
  assert.equal(getTask("STS-B").name, "stsb");
  assert.equal(getTask("glue/rte").name, "rte");
  assert.equal(getTask("MNLI_matched").name, "mnli-m");
});

test("toDataFrame: columns, shape and label names", () => {
  const df = toDataFrame([
    { textA: "a", textB: "x", label: 1, idx: 3 },
    { textA: "b", label: 0 },
  ], "rte");
  assert.deepEqual(df.shape, [2, 5]);
  assert.deepEqual(df.columns, ["textA", "textB", "label", "labelName", "idx"]);
  assert.deepEqual(df["labelName"].values, ["not_entailment", "entailment"]);
  assert.deepEqual(df["textB"].values, ["x", ""]);
  assert.deepEqual(toDataFrame([{ textA: "a", label: 2.5 }], "stsb").columns, ["textA", "label"]);
});
