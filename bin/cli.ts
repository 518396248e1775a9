/**
 * The `fsam-lab` command line. Each sub-command lives in `bin/commands/<name>.ts` and exports
 * `run(argv: string[]): Promise<number>` (the exit code) and `summary` (one line for the help).
 */
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

/** Shape of a sub-command module. */
export interface Command {
  /** One line shown by `fsam-lab help`. */
  summary: string;
  /** Runs the command with the arguments after its name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

const commandsDir = fileURLToPath(new URL("./commands/", import.meta.url));

/** Names of the available sub-commands, from the files in bin/commands. */
function commandNames(): string[] {
  return readdirSync(commandsDir)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    const lines = ["usage: fsam-lab <command> [options]", "", "commands:"];
    for (const n of commandNames()) {
      const mod = (await import(join(commandsDir, `${n}.ts`))) as Command;
      lines.push(`  ${n.padEnd(22)} ${mod.summary}`);
    }
    console.log(lines.join("\n"));
    return name ? 0 : 1;
  }
  const file = join(commandsDir, `${name}.ts`);
  if (!/^[a-z][a-z0-9-]*$/.test(name) || !existsSync(file)) {
    console.error(`fsam-lab: unknown command '${name}'. Known: ${commandNames().join(", ")}`);
    return 2;
  }
  const mod = (await import(file)) as Command;
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`fsam-lab: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
