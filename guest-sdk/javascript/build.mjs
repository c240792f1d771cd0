#!/usr/bin/env node
// `node build.mjs PLUGIN.js|PLUGIN.ts [-o OUT.wasm] [--wit DIR]`: a plugin
// file into a WebAssembly component.
//
// The plugin and the SDK are bundled into one ES module with rolldown (which
// also strips TypeScript), the WIT imports left to the component, and the
// bundle is made a component by componentize-js, called as a library.

import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { componentize } from "@bytecodealliance/componentize-js";
import { rolldown } from "rolldown";

const here = dirname(fileURLToPath(import.meta.url));

const usage = "usage: node build.mjs PLUGIN.js|PLUGIN.ts [-o OUT.wasm] [--wit DIR]";
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { output: { type: "string", short: "o" }, wit: { type: "string" } },
});
if (positionals.length !== 1) {
  console.error(usage);
  process.exit(2);
}
const plugin = resolve(positionals[0]);
if (!/\.(m?js|ts)$/.test(plugin) || !existsSync(plugin)) {
  console.error(`${positionals[0]}: not a .js or .ts file`);
  process.exit(2);
}
const wit = resolve(values.wit ?? process.env.HOOKGATE_WIT ?? join(here, "..", "..", "wit"));
if (!existsSync(join(wit, "plugin.wit"))) {
  console.error(`no plugin.wit in ${wit}: give --wit or set HOOKGATE_WIT`);
  process.exit(2);
}
const output = resolve(values.output ?? plugin.replace(/\.(m?js|ts)$/, ".wasm"));

const stage = await mkdtemp(join(tmpdir(), "hookgate-build-"));
try {
  const entry = join(stage, "entry.js");
  await writeFile(
    entry,
    `import ${JSON.stringify(plugin)};\nexport { handle } from ${JSON.stringify(join(here, "src", "component.js"))};\n`,
  );
  const bundle = await rolldown({
    input: entry,
    external: (id) => id.startsWith("hookgate:plugin/"),
    resolve: { alias: { "@hookgate/plugin": join(here, "src", "index.js") } },
    logLevel: "warn",
  });
  const source = join(stage, "plugin.js");
  await bundle.write({ file: source, format: "es" });
  await bundle.close();
  const { component } = await componentize({ sourcePath: source, witPath: wit, worldName: "plugin" });
  await mkdir(dirname(output), { recursive: true });
  await writeFile(output, component);
  console.log(`plugin: ${output}`);
} catch (error) {
  console.error(`building ${basename(plugin)} failed: ${error?.stack ?? error}`);
  process.exitCode = 1;
} finally {
  await rm(stage, { recursive: true, force: true });
}
