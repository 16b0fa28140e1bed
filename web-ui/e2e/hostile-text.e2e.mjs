#!/usr/bin/env node
// End-to-end test of text that would break the layout (issue 26, part 4): the real hub binary,
// the built dashboard and the widget on the hub's demo shop (/dev/demo) in headless Chromium.
// Run with `npm run e2e` (builds first, then runs every journey).
//
//   (a) The profile API refuses the names that cannot be shown on one line or that read as
//       another name: 40 combining marks on every letter, U+2028 and U+2029, bidirectional
//       controls (422 `invalid_display_name`, each with its reason). It accepts a 49-character
//       name without a break in it, which Martin keeps.
//   (b) A visitor on a page whose title (300 characters) and address have no break in them writes
//       a long unbroken message, then one with right-to-left and left-to-right overrides
//       (U+202E, U+202D) that it never closes.
//   (c) Martin opens the conversation, writes a long unbroken note, takes control and answers
//       with a long unbroken message and one with an unclosed override.
//       Nora, on a 1024 px screen, opens the conversation Martin holds.
//   (d) From the DOM, in both dashboards: the topbar, the conversation's header, its timeline, the visitor panel, the
//       control bar, the Online list and each of its rows, and the widget's panel and log (in its
//       shadow root) are no wider inside than their box (scrollWidth ≤ clientWidth), and no element
//       in them sticks out of them; each message bubble is a bidi isolate (`dir="auto"`,
//       `unicode-bidi: isolate`), so an override inside it cannot reorder the text around it.
//
// Environment:
//   HUB_BIN       hub binary (default ../target/debug/hub, relative to web-ui/)
//   CHROMIUM_BIN  Chromium executable (default /usr/bin/chromium)
//   E2E_TIMEOUT_MS  deadline of each waiting step (default 15000)
//   E2E_HOSTILE_ARTIFACTS  directory for this run's screenshots (default: a new temporary
//                   directory; its path is printed either way)
//   E2E_DOC_SCREENSHOTS=1  after a passing run, also copy hostile-text-dashboard.png and
//                   hostile-text-widget.png into ../docs/images/
//
// Every wait is for a selector or a condition, bounded by a deadline: nothing here sleeps.

import path from "node:path";
import {
  DIST,
  DOC_SCREENSHOTS,
  artifactsDir,
  check,
  checkPrerequisites,
  launchBrowser,
  newPage,
  openPages,
  run,
  screenshots,
  startHub,
  step,
} from "./harness.mjs";

const ARTIFACTS = artifactsDir("E2E_HOSTILE_ARTIFACTS", "take-control-hostile-text-e2e-");
const shots = screenshots(ARTIFACTS);
const DOC_FILES = ["hostile-text-dashboard.png", "hostile-text-widget.png"];

/** The longest name there is, without a break and in wide capitals: 49 characters. */
const LONG_NAME = "WOLFGANGMAXIMILIAN".repeat(3).slice(0, 49);
/** Nothing in these may offer a line break: no spaces, hyphens or slashes. */
const TITLE = "HikingBootsWaterproofGoreTex".repeat(11).slice(0, 300);
const PATH = `/dev/demo/${"categoryOutdoorFootwearWinterSale".repeat(10)}`;
const VISITOR_LONG = `Order:${"ABCDEFGHIJ0123456789".repeat(20)}`;
const VISITOR_BIDI = "My order \u202Ereturned\u202D is late";
const NOTE_LONG = `Note:${"RefundPendingCheckWarehouse".repeat(12)}`;
const OPERATOR_LONG = `Tracking:${"CARRIER0123456789TRACK".repeat(12)}`;
const OPERATOR_BIDI = "Label \u202Eyour reply\u202D ready";

/** Names the hub must refuse, and what its reason must say. */
const zalgo = [..."Martin"].map((c) => c + "\u0336".repeat(40)).join("");
const REFUSED = [
  [zalgo, "stacks 40 accents or other combining marks"],
  ["Mar\u2028tin", "line or paragraph separator (U+2028)"],
  ["Mar\u2029tin", "line or paragraph separator (U+2029)"],
  ["\u202EnitraM", "bidirectional control character (U+202E)"],
  ["Martin\u2067Support", "bidirectional control character (U+2067)"],
  ["Martin\u200FSupport", "bidirectional control character (U+200F)"],
];

// --- the profile API -------------------------------------------------------------------------

async function devToken(hubUrl, operatorId) {
  const res = await fetch(`${hubUrl}/dev/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ operator_id: operatorId }),
  });
  check(res.ok, `POST /dev/login answered ${res.status}`);
  return (await res.json()).token;
}

function putName(hubUrl, token, name) {
  return fetch(`${hubUrl}/api/profile`, {
    method: "PUT",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ display_name: name }),
  });
}

// --- the DOM ---------------------------------------------------------------------------------

/**
 * Runs in the page. Every element matching one of `selectors` (in the document, or in the
 * widget's shadow root when `inWidget`) is checked: nothing inside is wider than its box
 * (scrollWidth ≤ clientWidth), no element inside it is either (unless it is a one-line label cut
 * with an ellipsis), and no element inside it that is not clipped by a box in between sticks out. Returns what overflows, and how many boxes were checked per selector.
 */
function overflowReport({ selectors, inWidget }) {
  const root = inWidget ? document.querySelector("take-control-widget")?.shadowRoot : document;
  const problems = [];
  const counts = {};
  const describe = (el) => {
    const cls = typeof el.className === "string" && el.className ? `.${el.className.trim().split(/\s+/).join(".")}` : "";
    const label = el.getAttribute("aria-label");
    return `${el.tagName.toLowerCase()}${cls}${label ? `[aria-label="${label}"]` : ""}`;
  };
  const clips = (el) => getComputedStyle(el).overflowX !== "visible";
  for (const selector of selectors) {
    const boxes = root ? [...root.querySelectorAll(selector)] : [];
    counts[selector] = boxes.length;
    for (const box of boxes) {
      if (box.scrollWidth > box.clientWidth + 1) {
        problems.push(`${selector} (${describe(box)}): scrollWidth ${box.scrollWidth} > clientWidth ${box.clientWidth}`);
      }
      const outer = box.getBoundingClientRect();
      for (const el of box.querySelectorAll("*")) {
        // What only screen readers get is a 1 px box on purpose.
        if (el.closest(".sr-only, .tc-sr")) continue;
        // Wider inside than its box: only a one-line label cut with an ellipsis may be.
        const style = getComputedStyle(el);
        if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && !(style.textOverflow === "ellipsis" && style.overflowX !== "visible")) {
          problems.push(`${selector}: ${describe(el)} is cut off without an ellipsis (scrollWidth ${el.scrollWidth} > clientWidth ${el.clientWidth})`);
        }
        let clipped = false;
        for (let p = el.parentElement; p && p !== box; p = p.parentElement) {
          if (clips(p)) {
            clipped = true;
            break;
          }
        }
        if (clipped) continue;
        const r = el.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        if (r.right > outer.right + 1 || r.left < outer.left - 1) {
          problems.push(
            `${selector}: ${describe(el)} spans x ${Math.round(r.left)}–${Math.round(r.right)}, outside its box ${Math.round(outer.left)}–${Math.round(outer.right)}`,
          );
        }
      }
    }
  }
  return { problems, counts };
}

async function assertNoOverflow(page, selectors, where, inWidget = false) {
  const { problems, counts } = await page.evaluate(overflowReport, { selectors, inWidget });
  const missing = selectors.filter((s) => counts[s] === 0);
  check(missing.length === 0, `${where}: nothing matched ${missing.join(", ")}`);
  check(problems.length === 0, `${where}: text overflows its box:\n    ${problems.join("\n    ")}`);
  step(`${where}: nothing overflows (${selectors.map((s) => `${s} ×${counts[s]}`).join(", ")})`);
}

/** Each element (shown on screen) holding one of `texts`, and the bidi isolation it is rendered with. */
function isolation({ texts, inWidget }) {
  const root = inWidget ? document.querySelector("take-control-widget")?.shadowRoot : document;
  const out = [];
  for (const el of root.querySelectorAll("*")) {
    if (el.closest(".sr-only, .tc-sr")) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && texts.some((t) => n.textContent.includes(t)));
    if (own) out.push({ tag: el.tagName, cls: String(el.className), dir: el.getAttribute("dir"), bidi: getComputedStyle(el).unicodeBidi });
  }
  return out;
}

async function assertIsolated(page, texts, where, inWidget = false) {
  const found = await page.evaluate(isolation, { texts: texts.map((t) => t.slice(0, 12)), inWidget });
  check(found.length >= texts.length, `${where}: found ${found.length} elements holding the messages, expected ${texts.length}`);
  // <bdi> is dir=auto by default.
  const bad = found.filter((f) => (f.dir !== "auto" && f.tag !== "BDI") || !["isolate", "plaintext", "isolate-override"].includes(f.bidi));
  check(bad.length === 0, `${where}: messages rendered without bidi isolation: ${JSON.stringify(bad)}`);
  step(`${where}: ${found.length} elements holding override characters are bidi isolates (dir=auto, unicode-bidi ${found[0].bidi})`);
}

// --- the scenario ----------------------------------------------------------------------------

const widget = (page) => page.locator("take-control-widget");
const historyLog = (page) => page.getByRole("log", { name: "Conversation history" });
const onlineRow = (page, id) => page.getByRole("listbox", { name: "Online conversations" }).locator(`[data-conversation-id="${id}"]`);

async function main() {
  checkPrerequisites([["built widget", path.join(DIST, "widget.js"), "run `npm run build`"]]);
  const hubUrl = await startHub(["--assistant-delay-ms", "50"]);
  step(`hub started at ${hubUrl}`);

  // (a) Names.
  const token = await devToken(hubUrl, "martin");
  for (const [name, says] of REFUSED) {
    const res = await putName(hubUrl, token, name);
    const body = await res.json();
    check(res.status === 422, `${JSON.stringify(name.slice(0, 20))}: answered ${res.status}, not 422`);
    check(body.code === "invalid_display_name", `${JSON.stringify(name.slice(0, 20))}: code ${body.code}`);
    check(typeof body.detail === "string" && body.detail.includes(says), `${JSON.stringify(name.slice(0, 20))}: detail "${body.detail}" does not say "${says}"`);
  }
  step(`the profile API refused ${REFUSED.length} names (stacked marks, U+2028/U+2029, bidi controls) with 422 invalid_display_name and the reason`);
  const saved = await putName(hubUrl, token, LONG_NAME);
  check(saved.status === 200, `a 49-character name answered ${saved.status}`);
  step(`Martin's display name is ${LONG_NAME.length} characters without a break`);

  // (b) The visitor.
  const browser = await launchBrowser();
  const visitor = await newPage(browser, "visitor", { width: 1100, height: 800 });
  await visitor.goto(`${hubUrl}/dev/demo`);
  await visitor.evaluate(
    ({ title, path }) => {
      // The widget reads the title when the page changes (pushState), so the title comes first.
      document.title = title;
      history.pushState({}, "", path);
    },
    { title: TITLE, path: PATH },
  );
  await widget(visitor).locator(".tc-launcher").click();
  const visitorBox = widget(visitor).getByRole("textbox", { name: "Message" });
  for (const text of [VISITOR_LONG, VISITOR_BIDI]) {
    await visitorBox.fill(text);
    await visitorBox.press("Enter");
    const mine = widget(visitor).locator(".tc-msg--visitor", { hasText: text.slice(0, 12) });
    await mine.waitFor();
    await mine.locator(".tc-state").waitFor({ state: "detached" });
  }
  await widget(visitor).locator(".tc-msg--ai:not(.tc-msg--partial)").first().waitFor();
  const conversationId = await visitor.waitForFunction(() => window.TakeControlWidget?.getState().conversationId ?? null).then((h) => h.jsonValue());
  step(`a visitor on a page titled with ${TITLE.length} unbroken characters wrote a long message and one with overrides`);

  // (c) Martin.
  const martin = await newPage(browser, "martin", { width: 1280, height: 800 });
  await martin.goto(hubUrl);
  await martin.locator('[data-operator-id="martin"]').click();
  await martin.getByRole("status", { name: "Connection: Live" }).waitFor();
  await onlineRow(martin, conversationId).click();
  await historyLog(martin).getByText(VISITOR_BIDI.slice(0, 9)).waitFor();
  const panel = martin.getByRole("complementary", { name: "About the visitor" });
  await panel.getByText(TITLE, { exact: true }).waitFor();
  await panel.getByRole("link", { name: `${hubUrl}${PATH}`, exact: true }).waitFor();

  const noteBox = martin.getByRole("textbox", { name: "Internal note" });
  await noteBox.fill(NOTE_LONG);
  await noteBox.press("Enter");
  const note = historyLog(martin).locator("li.note", { hasText: NOTE_LONG.slice(0, 20) });
  await note.waitFor();
  await note.getByText("Saving…").waitFor({ state: "detached" });

  await martin.getByRole("button", { name: "Take Control", exact: true }).click();
  await widget(visitor).locator(".tc-notice", { hasText: "joined the chat" }).waitFor();
  const box = martin.getByRole("textbox", { name: "Message to the visitor" });
  for (const text of [OPERATOR_LONG, OPERATOR_BIDI]) {
    await box.fill(text);
    await box.press("Enter");
    await widget(visitor).locator(".tc-msg--operator", { hasText: text.slice(0, 12) }).waitFor();
  }
  await historyLog(martin).getByText("Sent", { exact: true }).last().waitFor();
  await widget(visitor).getByText(LONG_NAME).first().waitFor();
  step("Martin wrote a long note, took control and answered with a long message and one with overrides");

  // Nora, on a smaller screen, watches the conversation Martin holds: her control bar and the
  // conversation's header name him.
  const nora = await newPage(browser, "nora", { width: 1024, height: 700 });
  await nora.goto(hubUrl);
  await nora.locator('[data-operator-id="nora"]').click();
  await nora.getByRole("status", { name: "Connection: Live" }).waitFor();
  await onlineRow(nora, conversationId).click();
  await historyLog(nora).getByText(OPERATOR_BIDI.slice(0, 5)).waitFor();
  await nora.locator(".controlbar__held").waitFor();
  step("Nora (1024 px wide) opened the conversation Martin holds");

  // (d) Nothing sticks out.
  const DASHBOARD = [
      ".topbar",
      ".conversation__header",
      '[role="log"][aria-label="Conversation history"]',
      ".visitor-panel",
      ".controlbar",
      '[role="listbox"][aria-label="Online conversations"]',
      '[role="listbox"][aria-label="Online conversations"] [data-conversation-id]',
      ".conversation",
  ];
  await assertNoOverflow(martin, DASHBOARD, "Martin's dashboard (1280 px)");
  await assertNoOverflow(nora, DASHBOARD, "Nora's dashboard (1024 px)");
  await assertNoOverflow(visitor, [".tc-panel", ".tc-log", ".tc-msg"], "widget", true);
  await assertIsolated(martin, [VISITOR_BIDI, OPERATOR_BIDI], "Martin's dashboard");
  await assertIsolated(visitor, [VISITOR_BIDI, OPERATOR_BIDI], "widget", true);

  await shots.take(martin, "hostile-text-dashboard");
  await shots.take(visitor, "hostile-text-widget");
  await shots.take(nora, "hostile-text-dashboard-1024");

  const pageErrors = [...openPages.values()].flatMap((p) => p.errors);
  if (pageErrors.length > 0) throw new Error(`pages logged errors:\n    ${pageErrors.join("\n    ")}`);
  if (DOC_SCREENSHOTS) shots.copyToDocs(DOC_FILES);
}

await run("Text that would break the layout, end-to-end", ARTIFACTS, main);
