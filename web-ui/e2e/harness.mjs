// What every end-to-end script shares: the hub process, headless Chromium, bounded waits,
// cleanups, operators' dev sign-in and profiles, a PNG for avatar uploads, and the run wrapper
// that reports PASS/FAIL with failure screenshots and the hub's last output.
//
// Environment (all scripts):
//   HUB_BIN       hub binary (default ../target/debug/hub, relative to web-ui/)
//   CHROMIUM_BIN  Chromium executable (default /usr/bin/chromium)
//   E2E_TIMEOUT_MS  deadline of each waiting step (default 15000)
//   E2E_DOC_SCREENSHOTS=1  after a passing run, copy the screenshots the docs use into ../docs/images/

import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import { chromium } from "playwright-core";
import WebSocket from "ws";

export const WEB_UI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const HUB_BIN = path.resolve(WEB_UI, process.env.HUB_BIN ?? "../target/debug/hub");
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
export const DIST = path.join(WEB_UI, "dist");
export const STEP_MS = Number(process.env.E2E_TIMEOUT_MS ?? 15_000);
export const DOC_SCREENSHOTS = process.env.E2E_DOC_SCREENSHOTS === "1";
export const DOC_IMAGES = path.resolve(WEB_UI, "..", "docs", "images");

/** Cleanups run last-in first-out, whatever happened. */
export const cleanups = [];
/** The hub's latest output lines, shown when a run fails. */
const hubLog = [];
/** Pages still open, by who uses them: a failed run screenshots each of them. */
export const openPages = new Map();

export function step(text) {
  console.log(`  ✓ ${text}`);
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

export function withDeadline(promise, label, ms = STEP_MS) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** This run's artifact directory, created: `$envVar` when set, else a new temporary one. */
export function artifactsDir(envVar, prefix) {
  const dir = process.env[envVar] ? path.resolve(process.env[envVar]) : mkdtempSync(path.join(os.tmpdir(), prefix));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * The shared artifacts directory `dir`, created, without the screenshots of an older run of the
 * same script (`own`: their names): a stale one must not pass for this run's.
 */
export function prepareArtifacts(dir, own) {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (own.test(f)) rmSync(path.join(dir, f));
}

// The widget's DOM is in an open shadow root; Playwright's CSS and text locators reach into it.
export const widget = (page) => page.locator("take-control-widget");
export const historyLog = (page) => page.getByRole("log", { name: "Conversation history" });

/** Screenshots into `dir`, remembered by file name, and copied into docs/images/ on request. */
export function screenshots(dir) {
  const taken = [];
  return {
    dir,
    taken,
    async take(page, name) {
      const file = `${name}.png`;
      await page.screenshot({ path: path.join(dir, file) });
      taken.push(file);
    },
    /** Copy `files` (default: every one taken) into docs/images/. */
    copyToDocs(files = taken) {
      mkdirSync(DOC_IMAGES, { recursive: true });
      for (const f of files) copyFileSync(path.join(dir, f), path.join(DOC_IMAGES, f));
      step(`copied ${files.length} screenshots into ${path.relative(process.cwd(), DOC_IMAGES) || DOC_IMAGES}`);
    },
  };
}

// --- the hub ---------------------------------------------------------------------------------

/**
 * Start the hub binary in --dev mode on a free port with the built dashboard; its base URL.
 * Attachments go to a memory store unless the script names one (`--file-store`): the hub's
 * default is the directory `data/files` under its working directory, here web-ui/.
 */
export async function startHub(extraArgs = []) {
  const store = extraArgs.includes("--file-store") ? [] : ["--file-store", "memory:"];
  const args = ["--dev", "--listen", "127.0.0.1:0", "--static-dir", DIST, ...store, ...extraArgs];
  const child = spawn(HUB_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  cleanups.push(() => stopProcess(child));
  const remember = (line) => {
    hubLog.push(line);
    if (hubLog.length > 400) hubLog.shift();
  };
  // Both pipes are drained for the hub's whole life: a full pipe would block its logging.
  createInterface({ input: child.stderr }).on("line", remember);
  const stdout = createInterface({ input: child.stdout });
  return withDeadline(
    new Promise((resolve, reject) => {
      stdout.on("line", (line) => {
        remember(line);
        const m = /hub listening on (http:\/\/\S+)/.exec(line);
        if (m) resolve(m[1].replace(/\/$/, ""));
      });
      child.once("error", reject);
      child.once("exit", (code, signal) => reject(new Error(`hub exited early (code ${code}, signal ${signal})`)));
    }),
    "the hub's 'hub listening on' line",
    30_000,
  );
}

async function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  try {
    await withDeadline(exited, "hub shutdown", 5_000);
  } catch {
    child.kill("SIGKILL");
    await exited;
  }
}

// --- browsers --------------------------------------------------------------------------------

export async function launchBrowser() {
  // Playwright gives the browser a fresh temporary profile and deletes it on close.
  const browser = await chromium.launch({
    executablePath: CHROMIUM_BIN,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-quic",
      "--disable-sync",
    ],
  });
  cleanups.push(() => browser.close());
  return browser;
}

/**
 * A page in its own browser context (own storage: a new visitor, or another operator's desk).
 * Page errors and console errors are collected in `page.errors` (the scripts fail on them),
 * except console errors matching one of `page.allowed`, for a step that expects them.
 */
export async function newPage(browser, who, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  cleanups.push(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.errors = [];
  page.allowed = [];
  page.on("pageerror", (e) => page.errors.push(`${who}: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (page.allowed.some((re) => re.test(m.text()))) return;
    page.errors.push(`${who}: ${m.text()}`);
  });
  openPages.set(who, page);
  return page;
}

/** An operator signed in through the `--dev` picker, in their own browser context, once the socket is live. */
export async function signIn(browser, hubUrl, operatorId) {
  const page = await newPage(browser, operatorId);
  await page.goto(hubUrl);
  await page.locator(`[data-operator-id="${operatorId}"]`).click();
  await page.getByRole("status", { name: "Connection: Live" }).waitFor();
  return page;
}

/** The notices of the widget on `page` (in its shadow root), in order. */
export const widgetNotices = (page) =>
  page.evaluate(() =>
    [...(document.querySelector("take-control-widget")?.shadowRoot?.querySelectorAll(".tc-notice") ?? [])].map((n) => n.textContent),
  );

/** Fail early, and say how to fix it, when something the run needs is missing. */
export function checkPrerequisites(extra = []) {
  for (const [what, file, hint] of [
    ["hub binary", HUB_BIN, "build it with `cargo build -p take-control-hub`, or set HUB_BIN"],
    ["Chromium", CHROMIUM_BIN, "install Debian's `chromium`, or set CHROMIUM_BIN"],
    ["built dashboard", path.join(DIST, "index.html"), "run `npm run build`"],
    ...extra,
  ]) {
    if (!existsSync(file)) throw new Error(`${what} not found at ${file}: ${hint}`);
  }
}

// --- running a script ------------------------------------------------------------------------

/** What each open page showed when the run failed, next to the step screenshots. */
async function failureScreenshots(dir) {
  for (const [who, page] of openPages) {
    if (page.isClosed()) continue;
    try {
      await page.screenshot({ path: path.join(dir, `failure-${who}.png`), timeout: 5_000 });
      console.error(`  saved ${path.join(dir, `failure-${who}.png`)}`);
    } catch (e) {
      console.error(`  no failure screenshot of ${who}: ${e instanceof Error ? e.message.split("\n")[0] : e}`);
    }
  }
}

async function runCleanups() {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch (e) {
      console.error(`cleanup failed: ${e instanceof Error ? e.message : e}`);
    }
  }
}

/**
 * Run `main`, print PASS with the time taken or FAIL with failure screenshots (into
 * `artifacts`) and the hub's last output, always clean up, and exit with the result.
 */
export async function run(title, artifacts, main) {
  let failed = false;
  process.once("SIGINT", () => {
    failed = true;
    void runCleanups().then(() => process.exit(130));
  });
  const started = Date.now();
  try {
    console.log(title);
    console.log(`  screenshots: ${artifacts}`);
    await main();
    console.log(`PASS (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed = true;
    console.error(`\nFAIL: ${e instanceof Error ? e.message : e}`);
    await failureScreenshots(artifacts);
    if (hubLog.length > 0) console.error(`\n--- last hub output ---\n${hubLog.slice(-60).join("\n")}`);
  } finally {
    await runCleanups();
  }
  process.exit(failed ? 1 : 0);
}

/**
 * A visitor over a plain widget socket, without a browser: enough for a conversation that
 * another visitor makes more recent, or one that ends when it closes. `next(pred, label)` waits
 * for a frame (already received or still to come); `write` waits for the hub to store the text.
 */
export async function plainVisitor(hubUrl, workspace = "demo-pro") {
  const ws = new WebSocket(`${hubUrl.replace(/^http/, "ws")}/ws/widget`);
  cleanups.push(() => ws.terminate());
  const frames = [];
  const waiters = new Set();
  ws.on("message", (data) => {
    frames.push(JSON.parse(String(data)));
    for (const w of [...waiters]) w();
  });
  const next = (pred, label) =>
    withDeadline(
      new Promise((resolve) => {
        const look = () => {
          const found = frames.find(pred);
          if (found) {
            waiters.delete(look);
            resolve(found);
          }
        };
        waiters.add(look);
        look();
      }),
      `the plain visitor to receive ${label}`,
    );
  await withDeadline(
    new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject))),
    "the plain visitor's socket to open",
  );
  const send = (frame) => ws.send(JSON.stringify(frame));
  send({ type: "hello", protocol: 1, workspace_id: workspace });
  const welcome = await next((f) => f.type === "welcome", "welcome");
  let n = 0;
  return {
    conversationId: welcome.conversation_id,
    next,
    async write(text) {
      const clientId = `plain-${++n}`;
      send({ type: "message", client_id: clientId, text });
      await next((f) => f.type === "ack" && f.client_id === clientId, `the ack of "${text}"`);
    },
    async leave() {
      const closed = new Promise((resolve) => ws.once("close", resolve));
      ws.close(1000, "visitor left");
      await withDeadline(closed, "the plain visitor's socket to close");
    },
  };
}

// --- the hub's HTTP API: each operator's own token, and their profile ------------------------

export async function devToken(hubUrl, operatorId) {
  const res = await fetch(`${hubUrl}/dev/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ operator_id: operatorId }),
  });
  if (!res.ok) throw new Error(`POST /dev/login for ${operatorId} answered ${res.status}`);
  return (await res.json()).token;
}

/** Saves a display name (and, with `png`, an uploaded avatar) as the operator themselves. */
export async function saveProfile(hubUrl, operatorId, displayName, png) {
  const token = await devToken(hubUrl, operatorId);
  const auth = { authorization: `Bearer ${token}` };
  const body = { display_name: displayName };
  if (png) {
    const up = await fetch(`${hubUrl}/api/profile/avatar`, { method: "POST", headers: { ...auth, "content-type": "image/png" }, body: png });
    if (up.status !== 201) throw new Error(`POST /api/profile/avatar for ${operatorId} answered ${up.status}: ${await up.text()}`);
    body.avatar_url = (await up.json()).avatar_url;
  }
  const res = await fetch(`${hubUrl}/api/profile`, {
    method: "PUT",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`PUT /api/profile for ${operatorId} answered ${res.status}: ${await res.text()}`);
  const saved = await res.json();
  if (saved.visitor_name !== displayName) throw new Error(`${operatorId}'s profile says visitors see "${saved.visitor_name}"`);
  return saved;
}

// --- a PNG without an image library ----------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** An 8-bit RGB PNG: a purple background with a light disc in the middle (a "face"). */
export function makePng(width, height) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  const stride = width * 3 + 1;
  const raw = Buffer.alloc(stride * height);
  const r = Math.min(width, height) * 0.3;
  for (let y = 0; y < height; y++) {
    raw[y * stride] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const i = y * stride + 1 + x * 3;
      const inside = Math.hypot(x - width / 2, y - height / 2) < r;
      raw[i] = inside ? 250 : 109;
      raw[i + 1] = inside ? 204 : 40;
      raw[i + 2] = inside ? 160 : 217;
    }
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk("IHDR", ihdr), pngChunk("IDAT", deflateSync(raw)), pngChunk("IEND", Buffer.alloc(0))]);
}
