/**
 * `fsam-lab download-glue <task…> [--dir DIR] [--endpoint URL] [--force]`: fetches official
 * GLUE/SuperGLUE task files (tasks by name, or `glue`, `superglue`, `all`).
 */
import { downloadGlue, GLUE_ENDPOINT } from "../../lib/data/glue-download.ts";

/** One line for `fsam-lab help`. */
export const summary = "download official GLUE/SuperGLUE task files (e.g. download-glue rte cb --dir glue_data)";

const usage = `usage: fsam-lab download-glue <task…|glue|superglue|all> [--dir DIR] [--endpoint URL] [--force]
  --dir DIR       root folder (files go to DIR/glue/<Task>/ and DIR/superglue/<Task>/; default glue_data)
  --endpoint URL  download host (default ${GLUE_ENDPOINT})
  --force         download again even when the files are there`;

/** Parses the arguments and downloads; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const names: string[] = [];
  let dir: string | undefined;
  let endpoint: string | undefined;
  let force = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") {
      console.log(usage);
      return 0;
    } else if (arg === "--force") force = true;
    else if (arg === "--dir" || arg === "--endpoint") {
      const value = argv[++i];
      if (value === undefined) {
        console.error(`download-glue: ${arg} needs a value\n${usage}`);
        return 2;
      }
      if (arg === "--dir") dir = value;
      else endpoint = value;
    } else if (arg.startsWith("--")) {
      console.error(`download-glue: unknown option '${arg}'\n${usage}`);
      return 2;
    } else names.push(arg);
  }
  if (names.length === 0) {
    console.error(usage);
    return 2;
  }
  const shown = new Map<string, number>();
  const results = await downloadGlue(names, {
    dir,
    endpoint,
    force,
    onProgress: ({ url, received, total }) => {
      const step = total ? Math.floor((10 * received) / total) : Math.floor(received / 10_000_000);
      if (shown.get(url) === step) return;
      shown.set(url, step);
      const mb = (received / 1e6).toFixed(1);
      process.stderr.write(`  ${url.split("/").pop()}: ${mb} MB${total ? ` of ${(total / 1e6).toFixed(1)} MB` : ""}\n`);
    },
  });
  for (const r of results) console.log(r.skipped ? `${r.task}: already in ${r.dir} (use --force to fetch again)` : `${r.task}: ${r.files.length} file(s) in ${r.dir}`);
  return 0;
}
