/**
 * The task registry: for every GLUE and SuperGLUE task FSAM Lab reads (and the embedded `default`
 * task), its input columns, labels, metrics, headline score, folder and split file names, and the
 * file formats its readers accept (official layouts and Hugging Face exports).
 */
import type { Quoting } from "./tsv.ts";

/** Names of the metrics in metrics.ts. */
export type MetricName = "accuracy" | "f1" | "macroF1" | "matthews" | "pearson" | "spearman";

/**
 * How a task's headline score is formed from its metrics: a single metric, or the mean of two
 * (MRPC/QQP: accuracy and F1; STS-B: Pearson and Spearman; CB: accuracy and macro-F1).
 */
export type Headline = readonly [MetricName] | readonly [MetricName, MetricName];

/**
 * How a format stores labels: class ids (`0`, `1`, …), class names (`entailment`, …), either of
 * those (booleans count as ids 0/1), or a real-valued score (regression).
 */
export type LabelEncoding = "ids" | "names" | "either" | "score";

/** A row of a file, as named fields (TSV columns or JSON keys). */
export type Row = Readonly<Record<string, unknown>>;

/**
 * One file layout a task's reader accepts. Files with a header (and JSONL files, whose keys play
 * the header's role) are recognised when their column names include every `columns` entry and
 * nothing outside `columns` ∪ `optionalColumns`; headerless TSVs by their field count and a
 * parsable label in the first row.
 */
export interface TaskFormat {
  /** Short description used in messages, e.g. "GLUE official TSV" or "Hugging Face export". */
  name: string;
  /** True when the file starts with a header line (always true for JSONL). */
  hasHeader: boolean;
  /** Required column names; for a headerless format, all columns in file order. */
  columns: readonly string[];
  /** Columns that may also appear (e.g. MNLI dev's label2..label5). */
  optionalColumns?: readonly string[];
  /** TSV quoting convention (see tsv.ts). */
  quoting: Quoting;
  /** Column of the first text (when `texts` is not given). */
  textA?: string;
  /** Column of the second text, for pair tasks. */
  textB?: string;
  /** Builds the texts from a row, for tasks whose input is several columns (COPA, WiC). */
  texts?: (row: Row) => { textA: string; textB?: string };
  /** Column of the label. */
  label: string;
  /** How labels are written. */
  labels: LabelEncoding;
  /** Column of the example index, when the format has one. */
  idx?: string;
}

/** Everything the library knows about one task. */
export interface TaskSpec {
  /** Registry key, e.g. `"rte"`, `"sst2"`, `"superglue-rte"`. */
  name: string;
  /** Name as papers print it, e.g. `"SST-2"`. */
  displayName: string;
  /** Benchmark the task belongs to. */
  benchmark: "glue" | "superglue" | "default";
  /** One line on what the task is. */
  description: string;
  /** Input column names (Hugging Face naming). */
  inputColumns: readonly string[];
  /** Class names by id (Hugging Face order); empty for regression. */
  labelNames: readonly string[];
  /** Number of model outputs: classes, or 1 for regression. */
  numLabels: number;
  /** True for regression (STS-B): labels are real scores, the head has one output and MSE loss. */
  isRegression: boolean;
  /** Metrics reported for the task. */
  metrics: readonly MetricName[];
  /** Metric(s) averaged into the headline score. */
  headline: Headline;
  /** Folder names the task's files are found in under a benchmark root (first one is canonical). */
  directories: readonly string[];
  /** Candidate file names per split; `dev` accepts `validation`/`val` as aliases. */
  splits: Readonly<Record<string, readonly string[]>>;
  /** File layouts the reader accepts. */
  formats: readonly TaskFormat[];
}

const tsvAndJsonl = (stem: string) => [`${stem}.tsv`, `${stem}.jsonl`];
const glueSplits = {
  train: tsvAndJsonl("train"),
  dev: [...tsvAndJsonl("dev"), ...tsvAndJsonl("validation")],
  test: tsvAndJsonl("test"),
};
const superglueSplits = {
  train: ["train.jsonl"],
  dev: ["val.jsonl", "dev.jsonl", "validation.jsonl"],
  test: ["test.jsonl"],
};

/** A Hugging Face `datasets` export (TSV written by pandas, or JSONL) with `idx`. */
function hfFormat(textA: string, textB: string | undefined, labels: LabelEncoding): TaskFormat {
  const columns = textB ? [textA, textB, "label"] : [textA, "label"];
  return { name: "Hugging Face export", hasHeader: true, columns, optionalColumns: ["idx"], quoting: "csv", textA, textB, label: "label", labels, idx: "idx" };
}

/** Reads a string field of a row. */
function text(row: Row, key: string): string {
  return String(row[key] ?? "");
}

const copaQuestion: Record<string, string> = { cause: "What was the cause?", effect: "What happened as a result?" };

const registry: TaskSpec[] = [
  {
    name: "cola", displayName: "CoLA", benchmark: "glue",
    description: "Corpus of Linguistic Acceptability: is the sentence grammatical?",
    inputColumns: ["sentence"], labelNames: ["unacceptable", "acceptable"], numLabels: 2, isRegression: false,
    metrics: ["matthews", "accuracy"], headline: ["matthews"], directories: ["CoLA", "cola"], splits: glueSplits,
    formats: [
      { name: "GLUE official TSV (no header: source, label, annotation, sentence)", hasHeader: false, columns: ["source", "label", "annotation", "sentence"], quoting: "none", textA: "sentence", label: "label", labels: "ids" },
      hfFormat("sentence", undefined, "ids"),
    ],
  },
  {
    name: "sst2", displayName: "SST-2", benchmark: "glue",
    description: "Stanford Sentiment Treebank: is the movie-review sentence positive?",
    inputColumns: ["sentence"], labelNames: ["negative", "positive"], numLabels: 2, isRegression: false,
    metrics: ["accuracy"], headline: ["accuracy"], directories: ["SST-2", "sst2", "SST2"], splits: glueSplits,
    formats: [
      { name: "GLUE official TSV (sentence, label)", hasHeader: true, columns: ["sentence", "label"], quoting: "none", textA: "sentence", label: "label", labels: "ids" },
      { name: "TSV with a 'content' column (label, content)", hasHeader: true, columns: ["content", "label"], quoting: "none", textA: "content", label: "label", labels: "ids" },
      hfFormat("sentence", undefined, "ids"),
    ],
  },
  {
    name: "mrpc", displayName: "MRPC", benchmark: "glue",
    description: "Microsoft Research Paraphrase Corpus: are the two sentences paraphrases?",
    inputColumns: ["sentence1", "sentence2"], labelNames: ["not_equivalent", "equivalent"], numLabels: 2, isRegression: false,
    metrics: ["accuracy", "f1"], headline: ["accuracy", "f1"], directories: ["MRPC", "mrpc"], splits: glueSplits,
    formats: [
      { name: "GLUE official TSV (Quality, #1 ID, #2 ID, #1 String, #2 String)", hasHeader: true, columns: ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"], quoting: "none", textA: "#1 String", textB: "#2 String", label: "Quality", labels: "ids" },
      hfFormat("sentence1", "sentence2", "ids"),
    ],
  },
  {
    name: "stsb", displayName: "STS-B", benchmark: "glue",
    description: "Semantic Textual Similarity Benchmark: similarity score of two sentences in [0, 5].",
    inputColumns: ["sentence1", "sentence2"], labelNames: [], numLabels: 1, isRegression: true,
    metrics: ["pearson", "spearman"], headline: ["pearson", "spearman"], directories: ["STS-B", "stsb", "STSB"], splits: glueSplits,
    formats: [
      { name: "GLUE official TSV (index, genre, filename, year, old_index, source1, source2, sentence1, sentence2, score)", hasHeader: true, columns: ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2", "score"], quoting: "none", textA: "sentence1", textB: "sentence2", label: "score", labels: "score", idx: "index" },
      { name: "GLUE official TSV without its header (10 columns)", hasHeader: false, columns: ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2", "score"], quoting: "none", textA: "sentence1", textB: "sentence2", label: "score", labels: "score", idx: "index" },
      hfFormat("sentence1", "sentence2", "score"),
    ],
  },
  {
    name: "qqp", displayName: "QQP", benchmark: "glue",
    description: "Quora Question Pairs: do the two questions ask the same thing?",
    inputColumns: ["question1", "question2"], labelNames: ["not_duplicate", "duplicate"], numLabels: 2, isRegression: false,
    metrics: ["accuracy", "f1"], headline: ["accuracy", "f1"], directories: ["QQP", "qqp"], splits: glueSplits,
    formats: [
      { name: "GLUE official TSV (id, qid1, qid2, question1, question2, is_duplicate)", hasHeader: true, columns: ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"], quoting: "none", textA: "question1", textB: "question2", label: "is_duplicate", labels: "ids", idx: "id" },
      hfFormat("question1", "question2", "ids"),
    ],
  },
  ...(["mnli", "mnli-m", "mnli-mm"] as const).map((name): TaskSpec => {
    const matched = [...tsvAndJsonl("dev_matched"), ...tsvAndJsonl("validation_matched")];
    const mismatched = [...tsvAndJsonl("dev_mismatched"), ...tsvAndJsonl("validation_mismatched")];
    const dev: Record<string, string[]> = name === "mnli-m" ? { dev: matched } : name === "mnli-mm" ? { dev: mismatched } : {};
    const mnliColumns = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse", "sentence2_parse", "sentence1", "sentence2", "gold_label"];
    return {
      name,
      displayName: name === "mnli" ? "MNLI" : name === "mnli-m" ? "MNLI-m" : "MNLI-mm",
      benchmark: "glue",
      description: `Multi-Genre NLI${name === "mnli-m" ? " (matched dev)" : name === "mnli-mm" ? " (mismatched dev)" : ""}: does the premise entail, contradict or say nothing about the hypothesis?`,
      inputColumns: ["premise", "hypothesis"], labelNames: ["entailment", "neutral", "contradiction"], numLabels: 3, isRegression: false,
      metrics: ["accuracy"], headline: ["accuracy"], directories: ["MNLI", "mnli"],
      splits: { train: tsvAndJsonl("train"), dev_matched: matched, dev_mismatched: mismatched, ...dev, test_matched: tsvAndJsonl("test_matched"), test_mismatched: tsvAndJsonl("test_mismatched") },
      formats: [
        { name: "GLUE official TSV (index, promptID, pairID, genre, parses, sentence1, sentence2, label1.., gold_label)", hasHeader: true, columns: mnliColumns, optionalColumns: ["label1", "label2", "label3", "label4", "label5"], quoting: "none", textA: "sentence1", textB: "sentence2", label: "gold_label", labels: "names", idx: "index" },
        hfFormat("premise", "hypothesis", "ids"),
      ],
    };
  }),
  {
    name: "qnli", displayName: "QNLI", benchmark: "glue",
    description: "Question NLI: does the sentence contain the answer to the question?",
    inputColumns: ["question", "sentence"], labelNames: ["entailment", "not_entailment"], numLabels: 2, isRegression: false,
    metrics: ["accuracy"], headline: ["accuracy"], directories: ["QNLI", "qnli"], splits: glueSplits,
    formats: [
      { name: "GLUE official TSV (index, question, sentence, label)", hasHeader: true, columns: ["index", "question", "sentence", "label"], quoting: "none", textA: "question", textB: "sentence", label: "label", labels: "names", idx: "index" },
      hfFormat("question", "sentence", "ids"),
    ],
  },
  {
    name: "rte", displayName: "RTE", benchmark: "glue",
    description: "Recognizing Textual Entailment: does sentence1 entail sentence2?",
    inputColumns: ["sentence1", "sentence2"], labelNames: ["entailment", "not_entailment"], numLabels: 2, isRegression: false,
    metrics: ["accuracy"], headline: ["accuracy"], directories: ["RTE", "rte"], splits: glueSplits,
    formats: [
      { name: "GLUE official TSV (index, sentence1, sentence2, label names)", hasHeader: true, columns: ["index", "sentence1", "sentence2", "label"], quoting: "none", textA: "sentence1", textB: "sentence2", label: "label", labels: "names", idx: "index" },
      hfFormat("sentence1", "sentence2", "ids"),
    ],
  },
  {
    name: "wnli", displayName: "WNLI", benchmark: "glue",
    description: "Winograd NLI: does the sentence with the pronoun replaced follow from the original?",
    inputColumns: ["sentence1", "sentence2"], labelNames: ["not_entailment", "entailment"], numLabels: 2, isRegression: false,
    metrics: ["accuracy"], headline: ["accuracy"], directories: ["WNLI", "wnli"], splits: glueSplits,
    formats: [
      { name: "GLUE official TSV (index, sentence1, sentence2, label 0/1)", hasHeader: true, columns: ["index", "sentence1", "sentence2", "label"], quoting: "none", textA: "sentence1", textB: "sentence2", label: "label", labels: "ids", idx: "index" },
      hfFormat("sentence1", "sentence2", "ids"),
    ],
  },
  {
    name: "boolq", displayName: "BoolQ", benchmark: "superglue",
    description: "Boolean Questions: is the answer to the question (textA) about the passage (textB) yes?",
    inputColumns: ["question", "passage"], labelNames: ["False", "True"], numLabels: 2, isRegression: false,
    metrics: ["accuracy"], headline: ["accuracy"], directories: ["BoolQ", "boolq"], splits: superglueSplits,
    formats: [
      { name: "SuperGLUE JSONL (question, passage, label, idx)", hasHeader: true, columns: ["question", "passage", "label"], optionalColumns: ["idx"], quoting: "csv", textA: "question", textB: "passage", label: "label", labels: "either", idx: "idx" },
    ],
  },
  {
    name: "cb", displayName: "CB", benchmark: "superglue",
    description: "CommitmentBank: does the premise entail, contradict or leave open the hypothesis?",
    inputColumns: ["premise", "hypothesis"], labelNames: ["entailment", "contradiction", "neutral"], numLabels: 3, isRegression: false,
    metrics: ["accuracy", "macroF1"], headline: ["accuracy", "macroF1"], directories: ["CB", "cb"], splits: superglueSplits,
    formats: [
      { name: "SuperGLUE JSONL (premise, hypothesis, label, idx)", hasHeader: true, columns: ["premise", "hypothesis", "label"], optionalColumns: ["idx"], quoting: "csv", textA: "premise", textB: "hypothesis", label: "label", labels: "either", idx: "idx" },
    ],
  },
  {
    name: "copa", displayName: "COPA", benchmark: "superglue",
    description:
      "Choice of Plausible Alternatives. One example per item: textA = premise + 'What was the cause?' or 'What happened as a result?', " +
      "textB = 'choice1 [SEP] choice2', label = index of the right choice, so a 2-way classifier's accuracy is COPA accuracy.",
    inputColumns: ["premise", "question", "choice1", "choice2"], labelNames: ["choice1", "choice2"], numLabels: 2, isRegression: false,
    metrics: ["accuracy"], headline: ["accuracy"], directories: ["COPA", "copa"], splits: superglueSplits,
    formats: [
      {
        name: "SuperGLUE JSONL (premise, choice1, choice2, question, label, idx)", hasHeader: true,
        columns: ["premise", "choice1", "choice2", "question", "label"], optionalColumns: ["idx"], quoting: "csv",
        texts: (row) => {
          const question = copaQuestion[text(row, "question")];
          if (!question) throw new Error(`question must be "cause" or "effect", got ${JSON.stringify(row.question)}`);
          return { textA: `${text(row, "premise")} ${question}`, textB: `${text(row, "choice1")} [SEP] ${text(row, "choice2")}` };
        },
        label: "label", labels: "ids", idx: "idx",
      },
    ],
  },
  {
    name: "superglue-rte", displayName: "RTE (SuperGLUE)", benchmark: "superglue",
    description: "Recognizing Textual Entailment, SuperGLUE version: does the premise entail the hypothesis?",
    inputColumns: ["premise", "hypothesis"], labelNames: ["entailment", "not_entailment"], numLabels: 2, isRegression: false,
    metrics: ["accuracy"], headline: ["accuracy"], directories: ["RTE", "rte"], splits: superglueSplits,
    formats: [
      { name: "SuperGLUE JSONL (premise, hypothesis, label, idx)", hasHeader: true, columns: ["premise", "hypothesis", "label"], optionalColumns: ["idx"], quoting: "csv", textA: "premise", textB: "hypothesis", label: "label", labels: "either", idx: "idx" },
    ],
  },
  {
    name: "wic", displayName: "WiC", benchmark: "superglue",
    description: "Words in Context: is the word used with the same sense in both sentences? textA = 'word [SEP] sentence1', textB = sentence2.",
    inputColumns: ["word", "sentence1", "sentence2"], labelNames: ["False", "True"], numLabels: 2, isRegression: false,
    metrics: ["accuracy"], headline: ["accuracy"], directories: ["WiC", "wic"], splits: superglueSplits,
    formats: [
      {
        name: "SuperGLUE JSONL (word, sentence1, sentence2, start/end offsets, label, idx)", hasHeader: true,
        columns: ["word", "sentence1", "sentence2", "label"], optionalColumns: ["idx", "start1", "end1", "start2", "end2", "version"], quoting: "csv",
        texts: (row) => ({ textA: `${text(row, "word")} [SEP] ${text(row, "sentence1")}`, textB: text(row, "sentence2") }),
        label: "label", labels: "either", idx: "idx",
      },
    ],
  },
  {
    name: "default", displayName: "FSAM Lab default", benchmark: "default",
    description: "The embedded synthetic sentiment task with negation and contrast (data/default-task, see data/README.md).",
    inputColumns: ["sentence"], labelNames: ["negative", "positive"], numLabels: 2, isRegression: false,
    metrics: ["accuracy"], headline: ["accuracy"], directories: ["default-task"], splits: { train: ["train.tsv"], dev: ["dev.tsv"] },
    formats: [
      { name: "TSV (sentence, label)", hasHeader: true, columns: ["sentence", "label"], quoting: "none", textA: "sentence", label: "label", labels: "ids" },
    ],
  },
];

/** All registered tasks by name. */
export const tasks: Readonly<Record<string, TaskSpec>> = Object.freeze(Object.fromEntries(registry.map((t) => [t.name, t])));

/** Alternative spellings accepted by {@link getTask} (lowercased, `_` and spaces read as `-`). */
const aliases: Record<string, string> = {
  "sst-2": "sst2", sst: "sst2", "sts-b": "stsb", sts: "stsb", "mnli-matched": "mnli-m", "mnli-mismatched": "mnli-mm",
  "glue-rte": "rte", "rte-superglue": "superglue-rte", "superglue-cb": "cb", "superglue-copa": "copa",
  "superglue-boolq": "boolq", "superglue-wic": "wic",
};

/** Looks a task up by name (case-insensitive; `SST-2`, `STS-B`, `MNLI-m`, `superglue/rte` and the like work). */
export function getTask(name: string): TaskSpec {
  const key = name.trim().toLowerCase().replace(/[_\s/]/g, "-");
  const spec = tasks[key] ?? tasks[aliases[key] ?? ""] ?? tasks[key.replace(/^glue-/, "")];
  if (!spec) throw new Error(`unknown task '${name}'. Known tasks: ${Object.keys(tasks).join(", ")}`);
  return spec;
}
