#!/usr/bin/env node
// Writes the per-platform npm package that carries the binary, the way esbuild and biome ship:
//
//   node npm/scripts/platform-package.mjs linux-x64 target/release/inboxkit-mock OUT_DIR
//
// npm installs only the package whose `os` and `cpu` match the machine (the main package lists
// all of them as optional dependencies), so nothing is downloaded at install time.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PLATFORMS = {
  "linux-x64": { os: "linux", cpu: "x64", rust: "x86_64-unknown-linux-musl" },
  "linux-arm64": { os: "linux", cpu: "arm64", rust: "aarch64-unknown-linux-musl" },
  "darwin-x64": { os: "darwin", cpu: "x64", rust: "x86_64-apple-darwin" },
  "darwin-arm64": { os: "darwin", cpu: "arm64", rust: "aarch64-apple-darwin" },
};

const [platform, binary, outDir] = process.argv.slice(2);
const spec = PLATFORMS[platform];
if (!spec || !binary || !outDir) {
  console.error(`usage: platform-package.mjs <${Object.keys(PLATFORMS).join("|")}> <binary> <out-dir>`);
  process.exit(64);
}
const here = dirname(fileURLToPath(import.meta.url));
const main = JSON.parse(readFileSync(join(here, "..", "inboxkit-mock", "package.json"), "utf8"));
const name = `@inboxkit-mock/${platform}`;
if (main.optionalDependencies?.[name] !== main.version) {
  console.error(`inboxkit-mock/package.json must list ${name}@${main.version} in optionalDependencies`);
  process.exit(1);
}
mkdirSync(join(outDir, "bin"), { recursive: true });
copyFileSync(binary, join(outDir, "bin", "inboxkit-mock"));
chmodSync(join(outDir, "bin", "inboxkit-mock"), 0o755);
const manifest = {
  name,
  version: main.version,
  description: `The inboxkit-mock binary for ${spec.os} ${spec.cpu} (${spec.rust}); installed by the inboxkit-mock package`,
  license: main.license,
  os: [spec.os],
  cpu: [spec.cpu],
  files: ["bin/"],
  preferUnplugged: true,
};
writeFileSync(join(outDir, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
writeFileSync(
  join(outDir, "README.md"),
  `# ${name}\n\nThe \`inboxkit-mock\` binary for ${spec.os} ${spec.cpu}. Install \`inboxkit-mock\` instead; npm picks this package on matching machines.\n`,
);
console.log(`${name}@${main.version} in ${outDir}`);
