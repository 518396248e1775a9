/**
 * Examples ordered by their encoded length, for evaluation: batches padded to their longest member
 * then carry little padding (on GLUE dev sets often half the tokens of the file order). Only for
 * passes whose per-example results do not depend on the batch an example shares — evaluation
 * without dropout, where padding is masked out — never for training batches.
 */
import type { Example } from "../types.ts";
import type { BertTokenizer } from "./tokenizer.ts";
import { checkPositiveInt } from "../check.ts";

/**
 * The examples sorted by their token count after encoding with `maxLength` (special tokens
 * included, truncation longest-first), shortest first; equal lengths keep their order (stable).
 * A new array holding the same example objects.
 */
export function sortByEncodedLength(examples: readonly Example[], tokenizer: BertTokenizer, maxLength: number): Example[] {
  checkPositiveInt("sortByEncodedLength: maxLength", maxLength);
  const lengths = tokenizer
    .encodeBatch(examples, { maxLength, truncation: "longest_first", padding: false })
    .map((e) => e.inputIds.length);
  return examples
    .map((example, i) => ({ example, i }))
    .sort((a, b) => lengths[a.i] - lengths[b.i] || a.i - b.i)
    .map(({ example }) => example);
}
