#!/usr/bin/env node
// End-to-end test of Take Control: the real hub binary, the built dashboard in a real headless
// Chromium, and a visitor simulated over a plain WebSocket. Run with `npm run e2e` (builds first).
//
// Environment:
//   HUB_BIN       hub binary (default ../target/debug/hub, relative to web-ui/)
//   CHROMIUM_BIN  Chromium executable (default /usr/bin/chromium)
//   E2E_TIMEOUT_MS  deadline of each waiting step (default 15000)
//   E2E_SCREENSHOTS directory to save a screenshot of each main screen into (off by default)
//
// Every wait is for a selector or a frame, bounded by a deadline that only turns a hang into a
// failure: nothing here sleeps to let something happen.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import WebSocket from "ws";

const WEB_UI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const HUB_BIN = path.resolve(WEB_UI, process.env.HUB_BIN ?? "../target/debug/hub");
const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
const DIST = path.join(WEB_UI, "dist");
const STEP_MS = Number(process.env.E2E_TIMEOUT_MS ?? 15_000);
const SCREENSHOTS = process.env.E2E_SCREENSHOTS ? path.resolve(process.env.E2E_SCREENSHOTS) : null;

/** Cleanups run last-in first-out, whatever happened. */
const cleanups = [];
const hubLog = [];

function step(text) {
  console.log(`  ✓ ${text}`);
}

async function screenshot(page, name) {
  if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

function withDeadline(promise, label, ms = STEP_MS) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// --- the hub ---------------------------------------------------------------------------------

async function startHub() {
  const args = ["--dev", "--listen", "127.0.0.1:0", "--static-dir", DIST, "--assistant-delay-ms", "50"];
  const child = spawn(HUB_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  cleanups.push(() => stopProcess(child));
  const remember = (line) => {
    hubLog.push(line);
    if (hubLog.length > 400) hubLog.shift();
  };
  // Both pipes are drained for the hub's whole life: a full pipe would block its logging.
  createInterface({ input: child.stderr }).on("line", remember);
  const stdout = createInterface({ input: child.stdout });
  const url = await withDeadline(
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
  return { url, wsUrl: url.replace(/^http/, "ws") };
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

// --- the visitor -----------------------------------------------------------------------------

/** A chat widget without the widget: a socket, the frames it received, and waits on them. */
class Visitor {
  static async connect(wsUrl, workspaceId) {
    const ws = new WebSocket(`${wsUrl}/ws/widget`);
    const visitor = new Visitor(ws);
    cleanups.push(() => ws.terminate());
    await withDeadline(new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    }), "visitor socket open");
    visitor.send({ type: "hello", protocol: 1, workspace_id: workspaceId });
    visitor.welcome = await visitor.next((f) => f.type === "welcome", "welcome frame");
    return visitor;
  }

  constructor(ws) {
    this.ws = ws;
    this.frames = [];
    this.waiters = [];
    ws.on("message", (data) => {
      const frame = JSON.parse(String(data));
      this.frames.push(frame);
      for (const w of [...this.waiters]) w();
    });
    ws.on("close", (code) => {
      this.closed = code;
      for (const w of [...this.waiters]) w();
    });
  }

  send(frame) {
    this.ws.send(JSON.stringify(frame));
  }

  /** The first frame (received before or after this call) matching `pred`. */
  next(pred, label) {
    return withDeadline(
      new Promise((resolve, reject) => {
        const check = () => {
          const found = this.frames.find(pred);
          if (found) {
            this.waiters = this.waiters.filter((w) => w !== check);
            resolve(found);
          } else if (this.closed !== undefined) {
            reject(new Error(`visitor socket closed (${this.closed}) while waiting for ${label}`));
          } else if (!this.waiters.includes(check)) {
            this.waiters.push(check);
          }
        };
        check();
      }),
      `visitor to receive ${label}`,
    ).catch((e) => {
      const got = this.frames.map((f) => (f.type === "event" ? `event:${f.event.type}` : f.type)).join(", ");
      throw new Error(`${e.message}\n    visitor received: ${got || "nothing"}`);
    });
  }
}

const isEvent = (type, extra = () => true) => (f) => f.type === "event" && f.event.type === type && extra(f.event);

// --- the dashboard ---------------------------------------------------------------------------

async function launchBrowser() {
  // A fresh profile per run. Playwright refuses `--user-data-dir` among `launch()` args and takes
  // the directory as launchPersistentContext's first argument instead; the effect is the same.
  const userDataDir = mkdtempSync(path.join(tmpdir(), "take-control-e2e-"));
  cleanups.push(() => rmSync(userDataDir, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(userDataDir, {
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
    viewport: { width: 1366, height: 800 },
  });
  cleanups.push(() => context.close());
  return context;
}

async function signIn(context, hubUrl, operator) {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.errors = errors;
  await page.goto(hubUrl);
  await page.locator(`[data-operator-id="${operator.id}"]`).click();
  await page.getByRole("status", { name: "Connection: Live" }).waitFor();
  return page;
}

// --- the scenario ----------------------------------------------------------------------------

async function main() {
  for (const [what, file, hint] of [
    ["hub binary", HUB_BIN, "build it with `cargo build -p take-control-hub`, or set HUB_BIN"],
    ["Chromium", CHROMIUM_BIN, "install Debian's `chromium`, or set CHROMIUM_BIN"],
    ["built dashboard", path.join(DIST, "index.html"), "run `npm run build`"],
  ]) {
    if (!existsSync(file)) throw new Error(`${what} not found at ${file}: ${hint}`);
  }

  const hub = await startHub();
  step(`hub started at ${hub.url}`);

  const res = await fetch(`${hub.url}/dev/operators`);
  if (!res.ok) throw new Error(`GET /dev/operators answered ${res.status}`);
  const operators = await res.json();
  const pro = operators.find((o) => o.plan === "pro" || o.plan === "business");
  const basic = operators.find((o) => o.plan === "basic" || o.plan === "standard");
  if (!pro) throw new Error("/dev/operators lists no operator of a Pro or Business workspace");
  if (!basic) throw new Error("/dev/operators lists no operator of a Basic or Standard workspace");

  const context = await launchBrowser();
  // Signed in before the visitor arrives, so the conversation must appear live, not on load.
  const page = await signIn(context, hub.url, pro);
  step(`signed in as ${pro.name} (${pro.plan})`);

  const visitor = await Visitor.connect(hub.wsUrl, pro.workspace_id);
  const conversationId = visitor.welcome.conversation_id;
  visitor.send({ type: "message", client_id: "v1", text: "I need help with my order" });
  await visitor.next((f) => f.type === "ack" && f.client_id === "v1", "ack of the visitor's message");
  step(`visitor started conversation ${conversationId}`);

  const row = page.locator(`[role="option"][data-conversation-id="${conversationId}"]`);
  await row.waitFor();
  await screenshot(page, "0-online-list");
  step("conversation appeared in the Online list without a refresh");

  await row.click();
  await page.getByRole("log", { name: "Conversation history" }).getByText("I need help with my order").waitFor();
  step("opened the conversation and saw the visitor's message");

  await page.getByRole("button", { name: "Take Control", exact: true }).click();
  await visitor.next(isEvent("operator_joined"), "operator_joined event");
  const box = page.getByRole("textbox", { name: "Message to the visitor" });
  await box.waitFor();
  step("took control; the visitor was told an operator joined");

  const reply = "Hi, I'm a human and I'm looking at your order now.";
  await box.fill(reply);
  await box.press("Enter");
  await visitor.next(
    isEvent("message", (e) => e.author.kind === "operator" && e.text === reply),
    "the operator's reply",
  );
  await page.getByRole("log").getByText("Sent", { exact: true }).waitFor();
  await screenshot(page, "1-operator-in-control");
  step("the reply reached the visitor and shows as sent");

  await page.getByRole("button", { name: "End", exact: true }).click();
  await visitor.next(isEvent("operator_left"), "operator_left event");
  await page.getByRole("button", { name: "Take Control", exact: true }).waitFor();
  await screenshot(page, "2-back-to-ai");
  step("ended; the visitor was told the operator left and the AI is back");

  // Asking for a human flags the conversation: first in the list, counted in the tab title.
  // (The hub's demo assistant hands over when a visitor asks for a human.)
  const asker = await Visitor.connect(hub.wsUrl, pro.workspace_id);
  asker.send({ type: "message", client_id: "h1", text: "Can I talk to a human, please?" });
  await asker.next(isEvent("human_requested"), "human_requested event");
  const askerRow = page.locator(`[role="option"][data-conversation-id="${asker.welcome.conversation_id}"]`);
  await page.waitForFunction(() => document.title === "(1) Take Control");
  const firstRowId = await page.getByRole("option").first().getAttribute("data-conversation-id");
  if (firstRowId !== asker.welcome.conversation_id) throw new Error("the conversation waiting for a human is not first");
  if (!/needs a human/.test((await askerRow.getAttribute("aria-label")) ?? "")) throw new Error("the row does not say it needs a human");
  step("a visitor asking for a human is listed first and counted in the tab title");

  // A Basic/Standard workspace sees Take Control, locked, with the reason.
  const basicVisitor = await Visitor.connect(hub.wsUrl, basic.workspace_id);
  basicVisitor.send({ type: "message", client_id: "b1", text: "Hello?" });
  const basicPage = await signIn(context, hub.url, basic);
  const basicRow = basicPage.locator(`[role="option"][data-conversation-id="${basicVisitor.welcome.conversation_id}"]`);
  await basicRow.click();
  const locked = basicPage.getByRole("button", { name: "Take Control", exact: true });
  await locked.waitFor();
  if ((await locked.getAttribute("aria-disabled")) !== "true") throw new Error("Take Control is not locked on the basic plan");
  await basicPage.getByText("Pro feature").waitFor();
  await screenshot(basicPage, "3-basic-plan-locked");
  step(`${basic.name} (${basic.plan}) sees Take Control locked as a Pro feature`);

  const pageErrors = [...page.errors, ...basicPage.errors];
  if (pageErrors.length > 0) throw new Error(`the dashboard logged errors:\n    ${pageErrors.join("\n    ")}`);
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

let failed = false;
process.once("SIGINT", () => {
  failed = true;
  void runCleanups().then(() => process.exit(130));
});
try {
  console.log("Take Control end-to-end");
  await main();
  console.log("PASS");
} catch (e) {
  failed = true;
  console.error(`\nFAIL: ${e instanceof Error ? e.message : e}`);
  if (hubLog.length > 0) console.error(`\n--- last hub output ---\n${hubLog.slice(-60).join("\n")}`);
} finally {
  await runCleanups();
}
process.exit(failed ? 1 : 0);
