/**
 * Registration of a model's parameters as tfjs variables named by their Hugging Face names.
 * tfjs variable names are unique per process, so when a name is taken the model's variables get a
 * scope prefix `scope/` (see lib/names.ts): the one asked for, or the first free of `m2`, `m3`, ….
 */
import * as tf from "@tensorflow/tfjs";

/** True when a tfjs variable with this name is registered (alive) in the process. */
export function isVariableNameTaken(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(tf.engine().registeredVariables, name);
}

function scoped(scope: string, name: string): string {
  return scope === "" ? name : `${scope}/${name}`;
}

/**
 * The scope under which all of `names` are free: `requested` when given (an error names the first
 * taken variable), else "" when possible, else the first free of `m2`, `m3`, ….
 */
export function chooseScope(names: readonly string[], requested?: string): string {
  if (requested !== undefined) {
    if (requested.includes("/") || requested.trim() !== requested) {
      throw new Error(`scope must not contain '/' or surrounding spaces, got ${JSON.stringify(requested)}`);
    }
    const taken = names.find((n) => isVariableNameTaken(scoped(requested, n)));
    if (taken !== undefined) {
      throw new Error(
        `variable "${scoped(requested, taken)}" already exists: choose another scope or dispose() the model that owns it`,
      );
    }
    return requested;
  }
  for (let i = 1; ; i++) {
    const scope = i === 1 ? "" : `m${i}`;
    if (!names.some((n) => isVariableNameTaken(scoped(scope, n)))) return scope;
  }
}

/**
 * Creates one trainable variable per entry of `values` (Hugging Face name → initial value, which
 * the variable copies), named `scope/name`. Returns them keyed by Hugging Face name, in order.
 */
export function createNamedVariables(
  values: ReadonlyMap<string, tf.Tensor>,
  scope: string,
): Map<string, tf.Variable> {
  const variables = new Map<string, tf.Variable>();
  for (const [name, value] of values) {
    variables.set(name, tf.variable(value, true, scoped(scope, name), "float32"));
  }
  return variables;
}
