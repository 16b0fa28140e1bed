#!/usr/bin/env node
// End-to-end test of a streamed AI reply and of "Talk to a human", seen from both sides: the real
// hub binary (its embedded knowledge assistant streams replies word by word, paced by
// `--assistant-delay-ms 1500`), the embeddable widget on the hub's demo shop page (/dev/demo) and
// the built dashboard, in headless Chromium. Run with `npm run e2e` (builds first, then runs
// take-control.e2e.mjs, profile.e2e.mjs and this).
//
//   (0) The visitor opens the widget from the keyboard: focus lands in the message box; Escape
//       closes the chat and focus is back on the launcher (shadow DOM, real focus rules); so does
//       the × button at a phone's width, where the open chat hides the launcher.
//   (a) Martin has the visitor's conversation open. The visitor asks "How long does shipping
//       take?": the widget says the AI is thinking, then shows one partial AI bubble that grows
//       (at least two different partial texts, each the start of the answer, observed by a
//       MutationObserver in each page), then the stored answer; the dashboard shows the same
//       draft growing as a muted "writing…" bubble, then the stored answer. The widget's polite
//       live region reads the stored answer out once ("AI assistant: …").
//   (b) The visitor presses "Talk to a human": the widget says a teammate has been asked to join
//       and offers the button no more; Martin's Online list puts the conversation first, flagged
//       "Needs human", even after another visitor writes later, and counts it in the tab title.
//   (c) Martin takes control: the widget says "Human joined the chat" (Martin has no profile in
//       a fresh hub; also read out), and "Talk to a human" stays hidden while he holds the conversation.
//
// Environment:
//   HUB_BIN       hub binary (default ../target/debug/hub, relative to web-ui/)
//   CHROMIUM_BIN  Chromium executable (default /usr/bin/chromium)
//   E2E_TIMEOUT_MS  deadline of each waiting step (default 15000)
//   E2E_STREAMING_ARTIFACTS  directory for this run's screenshots (default: a new temporary
//                   directory; its path is printed either way)
//   E2E_DOC_SCREENSHOTS=1  after a passing run, also copy the screenshots into ../docs/images/
//
// Every wait is for a selector or a condition, bounded by a deadline that only turns a hang into
// a failure: nothing here sleeps to let something happen.

import path from "node:path";
import {
  DIST,
  artifactsDir,
  DOC_SCREENSHOTS,
  check,
  checkPrerequisites,
  cleanups,
  plainVisitor,
  launchBrowser,
  newPage,
  openPages,
  run,
  screenshots,
  startHub,
  step,
  withDeadline,
} from "./harness.mjs";

const ARTIFACTS = artifactsDir("E2E_STREAMING_ARTIFACTS", "take-control-streaming-e2e-");
const shots = screenshots(ARTIFACTS);

const WORKSPACE = "demo-pro";
const QUESTION = "How long does shipping take?";
/** The start of the demo knowledge file's answer to QUESTION. */
const ANSWER_START = "We ship within";

// --- browsers --------------------------------------------------------------------------------

// The widget's DOM is in an open shadow root; Playwright's CSS and text locators reach into it.
const widget = (page) => page.locator("take-control-widget");
const rowOf = (page, conversationId) => page.locator(`[role="option"][data-conversation-id="${conversationId}"]`);
const firstRowId = (page) => page.locator('[role="option"]').first().getAttribute("data-conversation-id");

/**
 * Records, in the page, every different text a selector's element shows, from now on: a
 * MutationObserver on `root()` (a shadow root or the document) sees each DOM change, so every
 * step of a growing bubble is observed without polling or sleeping. `window[key]` holds the texts.
 */
async function recordTexts(page, key, rootScript, selector, thinking = null) {
  await page.evaluate(
    ({ key, rootScript, selector, thinking }) => {
      const root = new Function(`return (${rootScript})`)();
      const log = (window[key] = { texts: [], thinkingFirst: false });
      const look = () => {
        const t = root.querySelector(selector)?.textContent ?? null;
        if (t !== null && t !== log.texts.at(-1)) log.texts.push(t);
        if (thinking && log.texts.length === 0 && root.querySelector(thinking.selector)?.textContent === thinking.text) {
          log.thinkingFirst = true;
        }
      };
      new MutationObserver(look).observe(root, { subtree: true, childList: true, characterData: true });
    },
    { key, rootScript, selector, thinking },
  );
}

/** The texts a draft went through must each be the start of the final reply, and grow. */
function checkGrowth(who, texts, final) {
  check(texts.length >= 2, `${who} saw ${texts.length} partial text(s) (${JSON.stringify(texts)}), not a growing reply`);
  let previous = "";
  for (const t of texts) {
    check(final.startsWith(t.trimEnd()), `${who}: the partial "${t}" is not the start of the reply "${final}"`);
    check(t.length > previous.length, `${who}: the partial "${t}" is not longer than "${previous}"`);
    previous = t;
  }
}

// --- the scenario ----------------------------------------------------------------------------

async function main() {
  checkPrerequisites([["built widget", path.join(DIST, "widget.js"), "run `npm run build`"]]);

  // 1.5 s of "thinking" and streaming: long enough to see the reply grow, short enough to wait for.
  const hubUrl = await startHub(["--assistant-delay-ms", "1500"]);
  step(`hub started at ${hubUrl} (--assistant-delay-ms 1500)`);
  const browser = await launchBrowser();

  const martin = await newPage(browser, "martin");
  await martin.goto(hubUrl);
  await martin.locator('[data-operator-id="martin"]').click();
  await martin.getByRole("status", { name: "Connection: Live" }).waitFor();

  // The visitor arrives: the widget connects at once, so the conversation is listed before any message.
  const visitor = await newPage(browser, "visitor", { width: 1100, height: 800 });
  await visitor.goto(`${hubUrl}/dev/demo`);
  const conversationId = await visitor
    .waitForFunction(() => window.TakeControlWidget?.getState().conversationId ?? null)
    .then((h) => h.jsonValue());
  await rowOf(martin, conversationId).click();
  const history = martin.getByRole("log", { name: "Conversation history" });
  await martin.getByRole("button", { name: "Take Control", exact: true, disabled: false }).waitFor();
  step(`a visitor on /dev/demo (conversation ${conversationId}); Martin has the conversation open`);

  // (a) The question, and the answer streamed into both pages.
  await recordTexts(visitor, "__widgetDraft", 'document.querySelector("take-control-widget").shadowRoot', ".tc-msg--partial .tc-bubble", {
    selector: ".tc-typing",
    text: "AI assistant is thinking…",
  });
  await recordTexts(martin, "__dashboardDraft", "document", ".msg--draft .msg__text");
  const w = widget(visitor);
  // (0) Keyboard: Enter on the launcher opens the chat with focus in the box; Escape gives it back.
  const launcher = w.locator(".tc-launcher");
  const box = w.getByRole("textbox", { name: "Message" });
  /** The class of the element focused inside the widget's shadow root. */
  const focusedClass = () => visitor.evaluate(() => document.querySelector("take-control-widget")?.shadowRoot?.activeElement?.className ?? null);
  await launcher.press("Enter");
  await w.getByRole("dialog", { name: "Chat with us" }).waitFor();
  check((await focusedClass()) === "tc-input", `opening the chat put focus on ${await focusedClass()}, not the message box`);
  await box.press("Escape");
  await w.getByRole("dialog").waitFor({ state: "hidden" });
  check((await focusedClass()) === "tc-launcher", `Escape left focus on ${await focusedClass()}, not the launcher`);
  check((await launcher.getAttribute("aria-expanded")) === "false", "the launcher still says the chat is expanded");
  await visitor.keyboard.press("Enter"); // the focused launcher, from the keyboard alone
  await w.getByRole("dialog", { name: "Chat with us" }).waitFor();
  check((await focusedClass()) === "tc-input", "reopening the chat did not put focus in the message box");
  // On a phone the open chat fills the screen and hides the launcher: closing must show it before focusing it.
  await visitor.setViewportSize({ width: 390, height: 800 });
  check(!(await launcher.isVisible()), "the launcher is shown over the full-screen chat on a phone");
  await w.getByRole("button", { name: "Close chat" }).and(w.locator(".tc-close")).press("Enter");
  await w.getByRole("dialog").waitFor({ state: "hidden" });
  check((await focusedClass()) === "tc-launcher", `closing the phone-sized chat left focus on ${await focusedClass()}, not the launcher`);
  await visitor.setViewportSize({ width: 1100, height: 800 });
  await launcher.click();
  await w.getByRole("dialog", { name: "Chat with us" }).waitFor();
  step("the launcher opens the chat with focus in the message box; Escape (or ×, on a phone) closes it and focus is back on the launcher");

  await box.fill(QUESTION);
  await box.press("Enter");

  // The first words (or, on a machine too slow to catch the ~1 s of streaming, the whole reply):
  // the screenshots are of the reply in progress when possible; what is checked is what the
  // observers recorded, which misses no step.
  await visitor.waitForFunction(
    (start) => {
      const root = document.querySelector("take-control-widget")?.shadowRoot;
      return root?.querySelector(".tc-msg--partial") || [...(root?.querySelectorAll(".tc-msg--ai .tc-bubble") ?? [])].some((b) => b.textContent?.startsWith(start));
    },
    ANSWER_START,
  );
  await Promise.all([shots.take(visitor, "streaming-01-widget-partial"), shots.take(martin, "streaming-02-dashboard-draft")]);

  const finalBubble = w.locator(".tc-msg--ai:not(.tc-msg--partial) .tc-bubble", { hasText: ANSWER_START });
  await finalBubble.waitFor();
  await w.locator(".tc-msg--partial").waitFor({ state: "detached" });
  const final = (await finalBubble.textContent()) ?? "";
  const widgetDraft = await visitor.evaluate(() => window.__widgetDraft);
  check(widgetDraft.thinkingFirst, "the widget did not say the AI was thinking before the first words of its reply");
  checkGrowth("the widget", widgetDraft.texts, final);
  check((await w.locator(".tc-msg--ai").count()) === 1, "the widget shows more than one AI bubble after the reply");
  const said = w.locator(".tc-sr");
  check((await said.textContent()) === `AI assistant: ${final}`, `the widget's live region says "${await said.textContent()}", not the stored reply`);
  step(`the widget said the AI was thinking, then showed its reply growing (${widgetDraft.texts.length} partial texts), then the stored reply, read out once`);

  await history.locator(".msg--ai:not(.msg--draft)", { hasText: ANSWER_START }).waitFor();
  await history.locator(".msg--draft").waitFor({ state: "detached" });
  const dashboardDraft = await martin.evaluate(() => window.__dashboardDraft);
  checkGrowth("the dashboard", dashboardDraft.texts, final);
  step(`the dashboard showed the same draft growing (${dashboardDraft.texts.length} partial texts) as a muted bubble, then the stored reply`);

  // (b) Another visitor writes: the most recent conversation, listed first while nobody waits.
  const other = await plainVisitor(hubUrl);
  await other.write("Do you have the Summit 40 backpack in green?");
  await rowOf(martin, other.conversationId).getByText("Summit 40").waitFor();
  check((await firstRowId(martin)) === other.conversationId, "the most recent conversation is not listed first");

  const ask = w.getByRole("button", { name: "Talk to a human" });
  await ask.click();
  await w.locator(".tc-notice", { hasText: "A teammate has been asked to join" }).waitFor();
  await w.getByRole("status").filter({ hasText: "Waiting for a teammate to join…" }).waitFor();
  check(!(await ask.isVisible()), '"Talk to a human" is still offered while the request waits');
  step('the visitor pressed "Talk to a human"; the widget said a teammate has been asked to join');

  const row = rowOf(martin, conversationId);
  await row.getByText("Needs human").waitFor();
  // The other visitor writes again, later: the waiting conversation stays on top all the same.
  await other.write("And in blue?");
  await rowOf(martin, other.conversationId).getByText("And in blue?").waitFor();
  check((await firstRowId(martin)) === conversationId, "the conversation waiting for a human is not listed first");
  check(/needs a human/.test((await row.getAttribute("aria-label")) ?? ""), "the row does not say it needs a human");
  await martin.waitForFunction(() => document.title.startsWith("(1) "));
  await shots.take(martin, "streaming-03-dashboard-needs-human");
  step('Martin\'s Online list shows it first, flagged "Needs human" (also after a later message elsewhere), counted in the tab title');

  // (c) Martin takes control.
  await martin.getByRole("button", { name: "Take Control", exact: true, disabled: false }).click();
  await martin.getByRole("textbox", { name: "Message to the visitor" }).waitFor();
  await w.locator(".tc-notice", { hasText: "Human joined the chat" }).waitFor();
  await said.filter({ hasText: "Human joined the chat" }).waitFor();
  await w.locator(".tc-who", { hasText: "Human" }).waitFor();
  check(!(await ask.isVisible()), '"Talk to a human" is offered while an operator holds the conversation');
  check(!(await w.getByText("Waiting for a teammate to join…").isVisible()), "the widget still says it waits for a teammate");
  await row.getByText("Needs human").waitFor({ state: "detached" });
  await shots.take(visitor, "streaming-04-widget-joined");
  step('Martin took control; the widget said "Human joined the chat" and offers "Talk to a human" no more');

  const pageErrors = [...openPages.values()].flatMap((p) => p.errors);
  if (pageErrors.length > 0) throw new Error(`pages logged errors:\n    ${pageErrors.join("\n    ")}`);
  if (DOC_SCREENSHOTS) shots.copyToDocs();
}

await run("Streamed AI reply and Talk to a human end-to-end", ARTIFACTS, main);
