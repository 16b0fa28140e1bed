#!/usr/bin/env node
// Fails the build when dist/widget.js outgrows its budget: it loads on every page of every
// customer's site, so its size is a feature. Usage: node scripts/check-widget-size.mjs [file] [budgetBytes]
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const WEB_UI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const file = path.resolve(WEB_UI, process.argv[2] ?? "dist/widget.js");
const budget = Number(process.argv[3] ?? 20 * 1024);

let bytes;
try {
  bytes = readFileSync(file);
} catch (e) {
  console.error(`widget size: cannot read ${file}: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
}
const gzipped = gzipSync(bytes, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const line = `widget size: ${path.relative(WEB_UI, file)} is ${kb(bytes.length)}, ${kb(gzipped)} gzip (budget ${kb(budget)} gzip)`;
if (gzipped > budget) {
  console.error(`${line}: OVER BUDGET by ${gzipped - budget} bytes`);
  process.exit(1);
}
console.log(line);
