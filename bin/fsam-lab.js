#!/usr/bin/env node
// Entry point of the `fsam-lab` command: registers tsx so the TypeScript sources run as they are,
// then hands over to bin/cli.ts.
import { register } from "tsx/esm/api";

register();
await import("./cli.ts");
