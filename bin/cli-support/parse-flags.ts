/**
 * The flag parsing every `fsam-lab` command shares: `node:util` parseArgs plus `--help`/`-h`; a parse
 * error prints the message and the usage text (exit code 2), `--help` prints the usage (exit 0).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** The option spec of `--help`. */
const helpFlag = { help: { type: "boolean", short: "h" } } as const;

/** Options of a command (as parseArgs takes them). */
type Options = NonNullable<ParseArgsConfig["options"]>;

/** What parseArgs gives for a spec (with `--help` added). */
export type ParsedFlags<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O & typeof helpFlag; allowPositionals: true }>>;

/**
 * Parses a command's arguments.
 *
 * @param command the command's name (prefix of error messages).
 * @param argv its arguments.
 * @param options its flags (`--help` is added).
 * @param usage the help text.
 * @param takesPositionals whether the command takes arguments besides flags.
 * @returns the parsed flags and positionals, or the exit code when the command should stop here.
 */
export function parseCommandFlags<O extends Options>(command: string, argv: string[], options: O, usage: string, takesPositionals = false): ParsedFlags<O> | { exitCode: number } {
  let parsed: ParsedFlags<O>;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, ...helpFlag }, allowPositionals: true }) as ParsedFlags<O>;
  } catch (err) {
    console.error(`${command}: ${(err as Error).message}\n\n${usage}`);
    return { exitCode: 2 };
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    return { exitCode: 0 };
  }
  if (!takesPositionals && parsed.positionals.length > 0) {
    console.error(`${command}: unexpected argument '${parsed.positionals[0]}'\n\n${usage}`);
    return { exitCode: 2 };
  }
  return parsed;
}

/**
 * For commands that parse their own arguments: when `argv` asks for help (`--help`/`-h`), prints
 * `usage` and returns true (the command then exits 0).
 */
export function printHelpIfAsked(argv: readonly string[], usage: string): boolean {
  if (!argv.includes("--help") && !argv.includes("-h")) return false;
  console.log(usage);
  return true;
}
