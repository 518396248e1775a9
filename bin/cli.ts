/**
 * The `fsam-lab` command line. Each sub-command lives in `bin/commands/<name>.ts` and exports
 * `run(argv: string[]): Promise<number>` (the exit code) and `summary` (one line for the help); a
 * module in bin/commands without them is never listed nor run (shared helpers live in bin/cli-support).
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

/** Whether a loaded module is a command: it exports `run` (a function) and `summary` (a string). */
function isCommand(mod: unknown): mod is Command {
  const m = mod as Partial<Command>;
  return typeof m.run === "function" && typeof m.summary === "string";
}

/** The sub-commands, by name: the modules in bin/commands that export `run` and `summary`. */
async function loadCommands(): Promise<Map<string, Command>> {
  const commands = new Map<string, Command>();
  for (const file of readdirSync(commandsDir).filter((f) => f.endsWith(".ts")).sort()) {
    const mod: unknown = await import(join(commandsDir, file));
    if (isCommand(mod)) commands.set(file.slice(0, -3), mod);
  }
  return commands;
}

/** Loads one command by name; undefined when no file of that name exports a command. */
async function loadCommand(name: string): Promise<Command | undefined> {
  const file = join(commandsDir, `${name}.ts`);
  if (!/^[a-z][a-z0-9-]*$/.test(name) || !existsSync(file)) return undefined;
  const mod: unknown = await import(file);
  return isCommand(mod) ? mod : undefined;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    const lines = ["usage: fsam-lab <command> [options]", "", "commands:"];
    for (const [n, command] of await loadCommands()) lines.push(`  ${n.padEnd(22)} ${command.summary}`);
    console.log(lines.join("\n"));
    return name ? 0 : 1;
  }
  const command = await loadCommand(name);
  if (!command) {
    console.error(`fsam-lab: unknown command '${name}'. Known: ${[...(await loadCommands()).keys()].join(", ")}`);
    return 2;
  }
  return command.run(rest);
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
