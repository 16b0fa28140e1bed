#!/usr/bin/env node
// End-to-end test of Take Control: the real hub binary, the built dashboard in a real headless
// Chromium, and a visitor simulated over a plain WebSocket. Run with `npm run e2e` (builds first).
//
// Environment:
//   HUB_BIN       hub binary (default ../target/debug/hub, relative to web-ui/)
//   CHROMIUM_BIN  Chromium executable (default /usr/bin/chromium)
//   E2E_TIMEOUT_MS  deadline of each waiting step (default 15000)
//   E2E_SCREENSHOTS directory for the screenshots of each step (default e2e/artifacts/, gitignored);
//                   a failed run also saves failure-<operator>.png of every open page there
//   E2E_DOC_SCREENSHOTS=1  after a passing run, copy the screenshots ../docs/operator-guide.md
//                   links to (images/NN-name.png) into ../docs/images/; off by default, so a
//                   normal run never rewrites committed images
//
// Every wait is for a selector or a frame, bounded by a deadline that only turns a hang into a
// failure: nothing here sleeps to let something happen.

import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import {
  DOC_IMAGES,
  DOC_SCREENSHOTS,
  WEB_UI,
  checkPrerequisites,
  cleanups,
  launchBrowser,
  newPage,
  openPages,
  run,
  startHub,
  step,
  withDeadline,
  prepareArtifacts,
} from "./harness.mjs";

const ARTIFACTS = path.resolve(process.env.E2E_SCREENSHOTS || path.join(WEB_UI, "e2e", "artifacts"));
const GUIDE = path.resolve(WEB_UI, "..", "docs", "operator-guide.md");
/** This run's screenshots: `NN-name.png` for the steps, `failure-<who>.png` for a failed run. */
const OWN_PNG = /^(\d\d-[a-z0-9-]+|failure-[a-z0-9-]+)\.png$/;

/** Screenshots taken so far, by file name. */
const shots = new Set();

/** `name` is `NN-what`, numbered in the order of the steps. */
async function screenshot(page, name) {
  const file = `${name}.png`;
  await page.screenshot({ path: path.join(ARTIFACTS, file) });
  shots.add(file);
}

/** The screenshots the operator guide links to, copied into docs/images/ (E2E_DOC_SCREENSHOTS=1). */
function copyDocScreenshots() {
  // Only this script's own step images (NN-name.png): profile-NN-… come from profile.e2e.mjs.
  const used = [...new Set([...readFileSync(GUIDE, "utf8").matchAll(/\]\(images\/(\d\d-[^)\s]+\.png)\)/g)].map((m) => m[1]))];
  if (used.length === 0) throw new Error(`${GUIDE} links to no images/*.png`);
  const missing = used.filter((f) => !shots.has(f));
  if (missing.length > 0) throw new Error(`the operator guide links to screenshots this run did not take: ${missing.join(", ")}`);
  mkdirSync(DOC_IMAGES, { recursive: true });
  for (const f of used) copyFileSync(path.join(ARTIFACTS, f), path.join(DOC_IMAGES, f));
  step(`copied ${used.length} screenshots into ${path.relative(process.cwd(), DOC_IMAGES) || DOC_IMAGES}`);
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

/**
 * One operator's own browser context (cookies and storage apart from the others), like a
 * teammate at another desk, with a page on the dashboard's sign-in picker.
 */
async function openDashboard(browser, hubUrl, who) {
  const page = await newPage(browser, who);
  await page.goto(hubUrl);
  await page.locator(`[data-operator-id="${who}"]`).waitFor();
  return page;
}

async function pickOperator(page, operator) {
  await page.locator(`[data-operator-id="${operator.id}"]`).click();
  await page.getByRole("status", { name: "Connection: Live" }).waitFor();
}

async function signIn(browser, hubUrl, operator) {
  const page = await openDashboard(browser, hubUrl, operator.id);
  await pickOperator(page, operator);
  return page;
}

const takeControlButton = (page) => page.getByRole("button", { name: "Take Control", exact: true });
/** Take Control as an operator of a Pro workspace can press it (not disabled, not locked). */
const takeControlEnabled = (page) => page.getByRole("button", { name: "Take Control", exact: true, disabled: false });
const historyLog = (page) => page.getByRole("log", { name: "Conversation history" });
const rowOf = (page, conversationId) => page.locator(`[role="option"][data-conversation-id="${conversationId}"]`);

// --- the scenario ----------------------------------------------------------------------------

/** The demo operators the scenario needs, from the hub's `GET /dev/operators`. */
function castFrom(operators) {
  const byId = (id, what) => {
    const op = operators.find((o) => o.id === id);
    if (!op) throw new Error(`/dev/operators lists no "${id}" (${what})`);
    return op;
  };
  // An operator takes over while an owner of the same workspace watches: the owner is who may
  // force a release, so the "Controlled by" view shows that button too.
  const taker = byId("martin", "an operator of the Pro workspace");
  const watcher = byId("olivia", "an owner of the Pro workspace");
  const basic = operators.find((o) => o.plan === "basic" || o.plan === "standard");
  if (!["pro", "business"].includes(taker.plan) || watcher.workspace_id !== taker.workspace_id) {
    throw new Error("martin and olivia must share a Pro or Business workspace");
  }
  if (!basic) throw new Error("/dev/operators lists no operator of a Basic or Standard workspace");
  return { taker, watcher, basic };
}

async function main() {
  checkPrerequisites();
  prepareArtifacts(ARTIFACTS, OWN_PNG);

  const url = await startHub(["--assistant-delay-ms", "50"]);
  const hub = { url, wsUrl: url.replace(/^http/, "ws") };
  step(`hub started at ${hub.url}`);

  const res = await fetch(`${hub.url}/dev/operators`);
  if (!res.ok) throw new Error(`GET /dev/operators answered ${res.status}`);
  const { taker, watcher, basic } = castFrom(await res.json());

  const browser = await launchBrowser();
  // Both signed in before the visitor arrives, so the conversation must appear live, not on load.
  const page = await openDashboard(browser, hub.url, taker.id);
  await screenshot(page, "01-sign-in");
  await pickOperator(page, taker);
  step(`signed in as ${taker.name} (${taker.role}, ${taker.plan})`);
  const watcherPage = await signIn(browser, hub.url, watcher);
  step(`signed in as ${watcher.name} (${watcher.role}) in a second browser context`);

  const visitor = await Visitor.connect(hub.wsUrl, taker.workspace_id);
  const conversationId = visitor.welcome.conversation_id;
  const question = "I need help with my order";
  visitor.send({ type: "message", client_id: "v1", text: question });
  await visitor.next((f) => f.type === "ack" && f.client_id === "v1", "ack of the visitor's message");
  // The demo assistant answers questions about orders. Waiting for its answer here keeps it from
  // racing Take Control below (a reply in flight at takeover is dropped, by design).
  const aiAnswer = await visitor.next(isEvent("message", (e) => e.author.kind === "ai"), "the assistant's answer");
  step(`visitor started conversation ${conversationId}; the assistant answered`);

  const row = rowOf(page, conversationId);
  await row.locator(".row__author", { hasText: "AI:" }).waitFor();
  await screenshot(page, "02-online-list");
  step("conversation appeared in the Online list without a refresh");

  await row.click();
  await historyLog(page).getByText(question).waitFor();
  await historyLog(page).getByText(aiAnswer.event.text).waitFor();
  await takeControlEnabled(page).waitFor();
  await screenshot(page, "03-conversation-open");
  step("opened the conversation and saw the visitor's message and the assistant's answer");

  // The watcher opens the same conversation. A marker on its window proves that everything it
  // sees from here on arrived live: a reload would drop it.
  await rowOf(watcherPage, conversationId).click();
  await historyLog(watcherPage).getByText(question).waitFor();
  await takeControlEnabled(watcherPage).waitFor();
  await watcherPage.evaluate(() => {
    window.__e2eNoReload = true;
  });
  step(`${watcher.name} has the same conversation open, handled by the AI`);

  await takeControlButton(page).click();
  await visitor.next(isEvent("operator_joined", (e) => e.operator.id === taker.id), "operator_joined event");
  const box = page.getByRole("textbox", { name: "Message to the visitor" });
  await box.waitFor();
  await historyLog(page).getByText(`${taker.name} (you) joined the chat`).waitFor();
  await screenshot(page, "04-take-control");
  step("took control; the visitor was told an operator joined");

  const heldBy = watcherPage.locator(".controlbar__held");
  await heldBy.getByText(taker.name, { exact: true }).waitFor();
  const heldText = (await heldBy.textContent())?.replace(/\s+/g, " ").trim();
  if (heldText !== `Controlled by ${taker.name}`) throw new Error(`the watcher's bar says "${heldText}"`);
  await watcherPage.getByRole("button", { name: "Force release", exact: true }).waitFor();
  if ((await takeControlButton(watcherPage).count()) !== 0) throw new Error("the watcher still sees Take Control");
  await historyLog(watcherPage).getByText(`${taker.name} joined the chat`, { exact: false }).waitFor();
  await screenshot(watcherPage, "05-controlled-by");
  step(`${watcher.name} saw "Controlled by ${taker.name}" live, with Force release (${watcher.role})`);

  const reply = "Hi, I'm Martin from Support. I'm looking at your order now.";
  await box.fill(reply);
  await box.press("Enter");
  await visitor.next(
    isEvent("message", (e) => e.author.kind === "operator" && e.text === reply),
    "the operator's reply",
  );
  await historyLog(page).getByText("Sent", { exact: true }).waitFor();
  await historyLog(watcherPage).getByText(reply).waitFor();
  await screenshot(page, "06-reply-sent");
  step("the reply reached the visitor, shows as sent, and the watcher sees it");

  await page.getByRole("button", { name: "End", exact: true }).click();
  await visitor.next(isEvent("operator_left", (e) => e.reason === "ended"), "operator_left event");
  await takeControlEnabled(page).waitFor();
  await historyLog(page).getByText(/left the chat; the AI assistant continues/).waitFor();
  await screenshot(page, "07-after-end");
  step("ended; the visitor was told the operator left and the AI is back");

  await takeControlEnabled(watcherPage).waitFor();
  await heldBy.waitFor({ state: "detached" });
  if ((await watcherPage.evaluate(() => window.__e2eNoReload)) !== true) throw new Error("the watcher's page reloaded");
  step(`${watcher.name} saw the conversation go back to the AI, Take Control available again, without a reload`);

  // A Basic/Standard workspace sees Take Control, locked, with the reason.
  const basicVisitor = await Visitor.connect(hub.wsUrl, basic.workspace_id);
  basicVisitor.send({ type: "message", client_id: "b1", text: "Hello?" });
  await basicVisitor.next(isEvent("message", (e) => e.author.kind === "ai"), "the assistant's greeting");
  const basicPage = await signIn(browser, hub.url, basic);
  await rowOf(basicPage, basicVisitor.welcome.conversation_id).click();
  const locked = takeControlButton(basicPage);
  await locked.waitFor();
  if ((await locked.getAttribute("aria-disabled")) !== "true") throw new Error("Take Control is not locked on the basic plan");
  await basicPage.getByText("Pro feature").waitFor();
  await historyLog(basicPage).getByText("Hello?").waitFor();
  await screenshot(basicPage, "08-basic-plan-locked");
  step(`${basic.name} (${basic.plan}) sees Take Control locked as a Pro feature`);

  // Asking for a human flags the conversation: first in the list, counted in the tab title.
  // (The hub's demo assistant hands over when a visitor asks for a human.)
  const asker = await Visitor.connect(hub.wsUrl, taker.workspace_id);
  asker.send({ type: "message", client_id: "h1", text: "Can I talk to a human, please?" });
  await asker.next(isEvent("human_requested"), "human_requested event");
  await asker.next(isEvent("message", (e) => e.author.kind === "ai"), "the assistant's hand-over message");
  const askerRow = rowOf(page, asker.welcome.conversation_id);
  await page.waitForFunction(() => document.title === "(1) Take Control");
  await askerRow.getByText("Needs human").waitFor();
  await askerRow.locator(".row__author", { hasText: "AI:" }).waitFor();
  const firstRowId = await page.getByRole("option").first().getAttribute("data-conversation-id");
  if (firstRowId !== asker.welcome.conversation_id) throw new Error("the conversation waiting for a human is not first");
  if (!/needs a human/.test((await askerRow.getAttribute("aria-label")) ?? "")) throw new Error("the row does not say it needs a human");
  await screenshot(page, "09-needs-human");
  step("a visitor asking for a human is listed first and counted in the tab title");

  const pageErrors = [...openPages.values()].flatMap((p) => p.errors);
  if (pageErrors.length > 0) throw new Error(`the dashboard logged errors:\n    ${pageErrors.join("\n    ")}`);
  step(`screenshots in ${path.relative(process.cwd(), ARTIFACTS) || ARTIFACTS}`);

  if (DOC_SCREENSHOTS) copyDocScreenshots();
}

await run("Take Control end-to-end", ARTIFACTS, main);
