/**
 * Generator of the embedded default task (`data/default-task/`): a synthetic, compositional
 * sentiment task. Each sentence describes things with sentiment adjectives inside a small grammar;
 * the label needs composition — negation flips a clause ("was not bad" is positive), in
 * "A , but B" the second clause decides, "A and B" agree, reported speech ("anna said that A")
 * is transparent — while names, places, modifiers, prefixes and suffixes are label-free
 * distractors a small training set correlates with by chance. The training set is small and has
 * label noise; the dev set is large and clean, so a model that memorises shows a generalization gap.
 * Everything is drawn from one seed (mulberry32), so the files are reproducible byte for byte.
 */
import { join } from "node:path";
import type { Example } from "../types.ts";
import { writeFileAtomic } from "../atomic-write.ts";
import { mulberry32, randomInt, type Random } from "../random.ts";
import { checkPositiveInt } from "../check.ts";

/** Options of {@link generateDefaultTask}. */
export interface DefaultTaskOptions {
  /** Seed of every random choice. Default 20221010 (the committed files). */
  seed?: number;
  /** Training examples. Default 512. */
  trainSize?: number;
  /** Dev examples. Default 2000. */
  devSize?: number;
  /** Fraction of training labels flipped (dev labels are never flipped). Default 0.08. */
  labelNoise?: number;
}

/** The generated task: examples and the WordPiece vocabulary (token per id). */
export interface GeneratedDefaultTask {
  /** Training examples (with label noise). */
  train: Example[];
  /** Dev examples (clean, no sentence shared with train). */
  dev: Example[];
  /** The task's own WordPiece vocabulary; id = position. */
  vocab: string[];
}

/** The settings of the committed `data/default-task` files. */
export const DEFAULT_TASK_OPTIONS: Required<DefaultTaskOptions> = { seed: 20221010, trainSize: 512, devSize: 2000, labelNoise: 0.08 };

const POSITIVE = [
  "good", "great", "excellent", "wonderful", "lovely", "brilliant",
  "charming", "amazing", "fantastic", "perfect", "beautiful", "nice",
];
const NEGATIVE = [
  "bad", "awful", "terrible", "boring", "dull", "poor", "horrible", "weak",
  "ugly", "annoying", "mediocre", "lousy",
];
/** The sentiment adjectives of the grammar (the only words that carry polarity). */
export const DEFAULT_TASK_LEXICON: Readonly<{ positive: readonly string[]; negative: readonly string[] }> = Object.freeze({ positive: POSITIVE, negative: NEGATIVE });
/** Nouns whose plural adds "s" (plurals are left out of the vocabulary, so WordPiece splits them: "movie ##s"). */
const COUNT_NOUNS = [
  "movie", "film", "book", "novel", "album", "song", "show", "play", "meal", "dinner", "restaurant", "hotel", "room",
  "trip", "flight", "game", "phone", "laptop", "camera", "car", "bike", "lecture", "teacher", "concert", "museum",
  "park", "garden", "plot", "ending", "soundtrack", "app", "design", "menu", "singer", "band", "actor", "episode",
  "podcast", "café",
];
const MASS_NOUNS = ["coffee", "service", "staff", "weather", "music", "food", "pizza", "acting", "writing", "cooking"];
const MODIFIERS = ["new", "old", "big", "small", "local", "famous", "little", "second", "last", "first", "long", "short", "early", "late", "french", "italian", "modern", "classic", "red", "blue"];
const NAMES = ["anna", "ben", "carla", "david", "emma", "felix", "grace", "henry", "irene", "jack", "kate", "leo", "maria", "nick", "olga", "paul", "rosa", "sam", "tara", "victor"];
const PLACES = ["paris", "rome", "berlin", "tokyo", "london", "madrid", "lisbon", "vienna", "oslo", "prague"];
const SINGULAR_DETS = ["the", "this", "that", "my", "our", "their", "his", "her"];
const PLURAL_DETS = ["the", "these", "those", "my", "our", "their"];
const INTENSIFIERS = ["very", "really", "quite", "rather", "so", "truly", "pretty", "extremely", "fairly", "incredibly"];
const PREFIXES = ["honestly ,", "to be fair ,", "in my opinion ,", "last week ,", "on monday ,", "at first glance ,", "for what it is worth ,", "frankly ,"];
const SUFFIXES = [", overall", ", i think", ", if you ask me", "for the price", "in the end", "to me", "this time", "as usual"];
const REPORTERS = ["{name} said that", "{name} thought that", "{name} told me that", "everyone agreed that", "the critics said that", "we all felt that"];

/** Verb forms: affirmative, and the negated variants (each flips the clause's polarity). */
interface VerbForms {
  plain: string;
  negated: string[];
}
const SINGULAR_VERBS: VerbForms[] = [
  { plain: "was", negated: ["was not", "was never", "was hardly", "wasn't"] },
  { plain: "is", negated: ["is not", "is never", "is hardly", "isn't"] },
  { plain: "seemed", negated: ["did not seem", "didn't seem", "never seemed", "hardly seemed"] },
  { plain: "felt", negated: ["did not feel", "didn't feel", "never felt"] },
  { plain: "looked", negated: ["did not look", "didn't look", "never looked"] },
  { plain: "sounded", negated: ["did not sound", "didn't sound", "never sounded"] },
];
const PLURAL_VERBS: VerbForms[] = [
  { plain: "were", negated: ["were not", "were never", "were hardly", "weren't"] },
  { plain: "are", negated: ["are not", "are never", "are hardly", "aren't"] },
  ...SINGULAR_VERBS.slice(2),
];

/** Picks a uniform element. */
function pick<T>(random: Random, items: readonly T[]): T {
  return items[randomInt(random, items.length)]!;
}

/** One clause "subject verb (not) (very) adjective" and its polarity (1 positive, 0 negative). */
function clause(random: Random, polarity?: number): { text: string; polarity: number } {
  const plural = random() < 0.25;
  const words: string[] = [pick(random, plural ? PLURAL_DETS : SINGULAR_DETS)];
  if (random() < 0.3) words.push(pick(random, MODIFIERS));
  words.push(plural ? `${pick(random, COUNT_NOUNS)}s` : pick(random, random() < 0.8 ? COUNT_NOUNS : MASS_NOUNS));
  if (random() < 0.15) words.push("in", pick(random, PLACES));
  const verb = pick(random, plural ? PLURAL_VERBS : SINGULAR_VERBS);
  const negated = random() < 0.25;
  words.push(negated ? pick(random, verb.negated) : verb.plain);
  if (random() < 0.35) words.push(pick(random, INTENSIFIERS));
  const target = polarity ?? (random() < 0.5 ? 1 : 0);
  const adjectivePositive = negated ? 1 - target : target;
  words.push(pick(random, adjectivePositive ? POSITIVE : NEGATIVE));
  return { text: words.join(" "), polarity: target };
}

/** One sentence of the grammar with its (clean) label. */
function sentence(random: Random): Example {
  const shape = random();
  let body: string;
  let label: number;
  if (shape < 0.6) {
    const c = clause(random);
    [body, label] = [c.text, c.polarity];
  } else if (shape < 0.75) {
    const [a, b] = [clause(random), clause(random)];
    [body, label] = [`${a.text} , but ${b.text}`, b.polarity];
  } else if (shape < 0.9) {
    const a = clause(random);
    const b = clause(random, a.polarity);
    [body, label] = [`${a.text} and ${b.text}`, a.polarity];
  } else {
    const c = clause(random);
    [body, label] = [`${pick(random, REPORTERS).replace("{name}", pick(random, NAMES))} ${c.text}`, c.polarity];
  }
  if (random() < 0.2) body = `${pick(random, PREFIXES)} ${body}`;
  if (random() < 0.2) body = `${body} ${pick(random, SUFFIXES)}`;
  body += random() < 0.1 ? " !" : " .";
  return { textA: body, label };
}

/** The task's vocabulary: special tokens, every grammar word (plurals excluded), characters and suffix pieces. */
function buildVocab(): string[] {
  const words = new Set<string>();
  const lexicon = [
    ...POSITIVE, ...NEGATIVE, ...COUNT_NOUNS.map((n) => n.normalize("NFD").replace(/\p{Mn}/gu, "")), ...MASS_NOUNS, ...MODIFIERS,
    ...NAMES, ...PLACES, ...SINGULAR_DETS, ...PLURAL_DETS, ...INTENSIFIERS, ...PREFIXES, ...SUFFIXES, ...REPORTERS,
    ...[...SINGULAR_VERBS, ...PLURAL_VERBS].flatMap((v) => [v.plain, ...v.negated]), "in", "but", "and",
  ];
  for (const phrase of lexicon) {
    for (const w of phrase.replace("{name}", "").split(/[\s']+/)) if (/^[a-z]+$/.test(w)) words.add(w);
  }
  const letters = "abcdefghijklmnopqrstuvwxyz0123456789".split("");
  const punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".split("");
  const suffixes = ["##s", "##es", "##ly", "##ed", "##ing", "##er", "##est", "##n", "##t"];
  const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ...punctuation, ...letters, ...[...words].sort(), ...suffixes, ...letters.map((c) => `##${c}`)];
  return [...new Set(vocab)];
}

/**
 * Generates the default task deterministically from `options.seed`: unique sentences (no
 * sentence in both splits), train labels flipped with probability `labelNoise`.
 */
export function generateDefaultTask(options: DefaultTaskOptions = {}): GeneratedDefaultTask {
  const { seed, trainSize, devSize, labelNoise } = { ...DEFAULT_TASK_OPTIONS, ...options };
  checkPositiveInt("generateDefaultTask: trainSize", trainSize);
  checkPositiveInt("generateDefaultTask: devSize", devSize);
  if (!(labelNoise >= 0 && labelNoise < 0.5)) throw new Error(`generateDefaultTask: labelNoise must be in [0, 0.5), got ${labelNoise}`);
  const random = mulberry32(seed);
  const seen = new Set<string>();
  const draw = (n: number): Example[] => {
    const out: Example[] = [];
    for (let attempts = 0; out.length < n; attempts++) {
      if (attempts > n * 100) throw new Error(`generateDefaultTask: cannot find ${n} distinct sentences`);
      const e = sentence(random);
      if (seen.has(e.textA)) continue;
      seen.add(e.textA);
      out.push(e);
    }
    return out;
  };
  const dev = draw(devSize);
  const train = draw(trainSize).map((e) => (random() < labelNoise ? { ...e, label: 1 - e.label } : e));
  return { train, dev, vocab: buildVocab() };
}

/** The TSV text of examples: header `sentence\tlabel`, one example per line. */
export function defaultTaskTsv(examples: readonly Example[]): string {
  return ["sentence\tlabel", ...examples.map((e) => `${e.textA}\t${e.label}`)].join("\n") + "\n";
}

/** Generates the task and writes `train.tsv`, `dev.tsv` and `vocab.txt` into `dir` (atomically). */
export function writeDefaultTask(dir: string, options: DefaultTaskOptions = {}): GeneratedDefaultTask {
  const task = generateDefaultTask(options);
  writeFileAtomic(join(dir, "train.tsv"), defaultTaskTsv(task.train));
  writeFileAtomic(join(dir, "dev.tsv"), defaultTaskTsv(task.dev));
  writeFileAtomic(join(dir, "vocab.txt"), task.vocab.join("\n") + "\n");
  return task;
}
