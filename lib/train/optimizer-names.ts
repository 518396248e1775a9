/**
 * The optimizer names the trainer knows (kept free of tfjs imports so command-line help loads fast).
 */

/** The optimizer names, see optimizers.ts for what each one is and its defaults. */
export const optimizerNames = ["adam", "adamw", "sgd", "sam", "asam", "gsam", "fsam", "fasam", "fgsam", "esam", "fesam"] as const;

/** One of {@link optimizerNames}. */
export type OptimizerName = (typeof optimizerNames)[number];

/** Throws unless `name` is a known optimizer name. */
export function checkOptimizerName(name: string): OptimizerName {
  if (!(optimizerNames as readonly string[]).includes(name)) {
    throw new Error(`optimizer: unknown name '${name}' (known: ${optimizerNames.join(", ")})`);
  }
  return name as OptimizerName;
}
