/** kernel_info_request: the kernel's name, version, language and banner. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../compiler.ts";
import type { HandlerTable } from "../request-dispatch.ts";
import { PROTOCOL_VERSION } from "../wire.ts";

/** Version of the package, for the banner. */
const VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;

/**
 * The kernel_info_request handler.
 *
 * @param backendLine the preloaded backend's one-line description, for the banner.
 */
export function kernelInfoHandlers(backendLine: () => string): HandlerTable {
  return {
    kernel_info_request: (req) =>
      req.reply({
        status: "ok",
        protocol_version: PROTOCOL_VERSION,
        implementation: "fsam-lab",
        implementation_version: VERSION,
        language_info: {
          name: "typescript",
          version: "5.0",
          mimetype: "text/typescript",
          file_extension: ".ts",
          codemirror_mode: "typescript",
          pygments_lexer: "typescript",
        },
        banner: `FSAM Lab ${VERSION} (TypeScript, node ${process.version})\n${backendLine()}\nGlobals: tf, fsam, dfd, display, comms. Magic: %typecheck strict|warn|off.`,
        help_links: [
          { text: "FSAM paper (arXiv 2210.05497)", url: "https://arxiv.org/abs/2210.05497" },
          { text: "TensorFlow.js API", url: "https://js.tensorflow.org/api/latest/" },
          { text: "TypeScript handbook", url: "https://www.typescriptlang.org/docs/handbook/intro.html" },
        ],
      }),
  };
}
