#!/usr/bin/env node
// End-to-end test of a handover with the assistant's help: the brief, the interrupted reply and a
// suggested reply, then a transfer. The real hub binary (its embedded knowledge assistant thinks,
// then streams its replies word by word, paced by `--assistant-delay-ms 5000`), the built
// dashboard and the embeddable widget (dist/widget.js on the hub's demo shop page, /dev/demo) in
// headless Chromium. Run with `npm run e2e` (builds first).
//
//   (a) Martin ("Martin from Support") and Nora ("Nora from Support") are signed in. A visitor
//       says hello, asks how long shipping takes (the assistant answers both), then presses
//       "Talk to a human". Martin opens the conversation: the brief above its history says what
//       the visitor wants (their question), what the AI answered and why a human was asked for.
//   (b) The visitor asks how to return an item; while the assistant's answer is streaming (its
//       partial bubble shows in the widget), Martin takes control. His message box holds what the
//       AI had written, with the hint that it was interrupted; the widget shows none of it. He
//       discards it.
//   (c) The visitor asks about payment methods. Martin presses Suggest: the suggested reply shows
//       above his message box, and nowhere in the widget. He inserts it, adds a line and sends;
//       the widget shows his message.
//   (d) Martin transfers the conversation to Nora, who opens it from her notice and answers. The
//       widget says "Martin from Support joined the chat", "… left the chat", "Nora from Support
//       joined the chat", and its page (DOM and state) holds nothing of the brief, of the hint, of
//       the suggestion panel, nor of the interrupted text; the suggestion only as Martin sent it.
//
// Environment:
//   HUB_BIN       hub binary (default ../target/debug/hub, relative to web-ui/)
//   CHROMIUM_BIN  Chromium executable (default /usr/bin/chromium)
//   E2E_TIMEOUT_MS  deadline of each waiting step (default 15000)
//   E2E_SCREENSHOTS directory for the screenshots (default e2e/artifacts/, gitignored, as
//                   take-control.e2e.mjs); this script's are handoff-NN-name.png, and a failed
//                   run adds failure-<who>.png of every open page
//   E2E_DOC_SCREENSHOTS=1  after a passing run, copy the screenshots ../docs/operator-guide.md
//                   links to into ../docs/images/
//
// Every wait is for a selector, a condition or a frame, bounded by a deadline that only turns a
// hang into a failure: nothing here sleeps to let something happen.

import path from "node:path";
import {
  DIST,
  DOC_SCREENSHOTS,
  WEB_UI,
  check,
  checkPrerequisites,
  launchBrowser,
  newPage,
  openPages,
  run,
  saveProfile,
  screenshots,
  signIn,
  startHub,
  step,
  widgetNotices,
  historyLog,
  prepareArtifacts,
  widget,
} from "./harness.mjs";

const ARTIFACTS = path.resolve(process.env.E2E_SCREENSHOTS || path.join(WEB_UI, "e2e", "artifacts"));
const shots = screenshots(ARTIFACTS);
/** The operator guide's section on the brief, suggestions and the interrupted reply shows these. */
const DOC_FILES = ["handoff-01-brief.png", "handoff-02-interrupted.png", "handoff-03-suggestion.png"];

const MARTIN_NAME = "Martin from Support";
const NORA_NAME = "Nora from Support";
const HELLO = "Hi there, I bought hiking boots from you.";
const QUESTION = "How long does shipping take?";
const RETURNS = "How do I return an item?";
/** The demo knowledge file's answer to RETURNS, which Martin's takeover interrupts. */
const RETURNS_ANSWER =
  'You can return any item within 30 days: open your order, choose "Return", and print the free label. Refunds arrive 3-5 days after we receive the parcel.';
const PAYMENT = "What payment methods do you accept?";
/** The start of the demo knowledge file's answer to PAYMENT: the suggestion. */
const PAYMENT_ANSWER_START = "We accept Visa";
const MARTIN_ADDS = " Is there anything else I can help with?";
const NORA_REPLY = "Hi, Nora here. I've noted your order; write any time.";
const HINT = "The AI was writing this when you took over";



/** Everything the visitor's page holds of the chat: the widget's text and its state. */
const visitorSees = (page) =>
  page.evaluate(() => ({
    text: document.querySelector("take-control-widget")?.shadowRoot?.textContent ?? "",
    bubbles: [...(document.querySelector("take-control-widget")?.shadowRoot?.querySelectorAll(".tc-bubble") ?? [])].map((b) => b.textContent ?? ""),
    state: JSON.stringify(window.TakeControlWidget?.getState() ?? {}),
  }));

/** The visitor writes and waits until the hub has stored it (no more "Sending…"). */
async function visitorSays(page, text) {
  const box = widget(page).getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
  const mine = widget(page).locator(".tc-msg--visitor", { hasText: text });
  await mine.waitFor();
  await mine.locator(".tc-state").waitFor({ state: "detached" });
}

/** Waits for the assistant's `n`th stored answer (not the partial bubble) in the widget. */
const storedAnswer = (page, n) => widget(page).locator(".tc-msg--ai:not(.tc-msg--partial)").nth(n - 1).waitFor();

/** The brief card's facts, as Martin reads them: `{ Wants: "…", "AI answered": "…", … }`. */
const briefFacts = (page) =>
  page.getByRole("region", { name: "Brief" }).evaluate((card) =>
    Object.fromEntries([...card.querySelectorAll("dt")].map((dt) => [dt.textContent, dt.nextElementSibling?.textContent ?? ""])),
  );

// --- the scenario ----------------------------------------------------------------------------

async function main() {
  checkPrerequisites([["built widget", path.join(DIST, "widget.js"), "run `npm run build`"]]);
  prepareArtifacts(ARTIFACTS, /^handoff-\d\d-[a-z0-9-]+\.png$/);

  // Slow enough that a reply streams for a few seconds: the takeover lands in the middle of one.
  const hubUrl = await startHub(["--assistant-delay-ms", "5000"]);
  step(`hub started at ${hubUrl} (--assistant-delay-ms 5000)`);
  await saveProfile(hubUrl, "martin", MARTIN_NAME);
  await saveProfile(hubUrl, "nora", NORA_NAME);
  step(`saved the profiles "${MARTIN_NAME}" and "${NORA_NAME}"`);

  const browser = await launchBrowser();
  const martin = await signIn(browser, hubUrl, "martin");
  const nora = await signIn(browser, hubUrl, "nora");
  step("Martin and Nora signed in, each in their own browser context");

  // (a) The visitor asks, then asks for a human; Martin reads the brief.
  const visitor = await newPage(browser, "visitor", { width: 1100, height: 800 });
  await visitor.goto(`${hubUrl}/dev/demo`);
  const w = widget(visitor);
  await w.locator(".tc-launcher").click();
  await visitorSays(visitor, HELLO);
  await storedAnswer(visitor, 1);
  await visitorSays(visitor, QUESTION);
  await storedAnswer(visitor, 2);
  const conversationId = await visitor.waitForFunction(() => window.TakeControlWidget?.getState().conversationId ?? null).then((h) => h.jsonValue());
  await w.getByRole("button", { name: "Talk to a human" }).click();
  await w.locator(".tc-notice", { hasText: "A teammate has been asked to join" }).waitFor();
  step(`a visitor on /dev/demo said hello, asked "${QUESTION}" (both answered), then pressed "Talk to a human"`);

  await martin.locator(`[role="option"][data-conversation-id="${conversationId}"]`).click();
  await historyLog(martin).getByText(QUESTION).waitFor();
  const card = martin.getByRole("region", { name: "Brief" });
  await card.getByText("Wants", { exact: true }).waitFor();
  const brief = await briefFacts(martin);
  check(brief.Wants?.includes(QUESTION), `the brief's "Wants" says ${JSON.stringify(brief.Wants)}, not the visitor's question`);
  check(typeof brief["AI answered"] === "string" && brief["AI answered"].length > 0, `the brief says nothing of what the AI answered: ${JSON.stringify(brief)}`);
  check(typeof brief["Why a human"] === "string" && brief["Why a human"].length > 0, `the brief says nothing of why a human: ${JSON.stringify(brief)}`);
  const madeBy = (await card.locator(".brief__by").textContent())?.trim();
  check(madeBy === "by knowledge assistant", `the brief's source line says "${madeBy}"`);
  await shots.take(martin, "handoff-01-brief");
  step(`Martin opened it: the brief says Wants "${brief.Wants}", Why a human "${brief["Why a human"]}", ${madeBy}`);

  // (b) Martin takes over while the assistant is writing its next answer.
  await visitorSays(visitor, RETURNS);
  await w.locator(".tc-msg--partial").waitFor();
  await martin.getByRole("button", { name: "Take Control", exact: true, disabled: false }).click();
  await w.locator(".tc-notice", { hasText: `${MARTIN_NAME} joined the chat` }).waitFor();
  const martinBox = martin.getByRole("textbox", { name: "Message to the visitor" });
  await martinBox.waitFor();
  const interrupted = await martin
    .waitForFunction(() => document.querySelector('textarea[aria-label="Message to the visitor"]')?.value || null)
    .then((h) => h.jsonValue())
    .catch((e) => {
      throw new Error(`Martin's message box never got the AI's interrupted reply (took over too late to interrupt it?): ${e.message}`);
    });
  check(RETURNS_ANSWER.startsWith(interrupted) && interrupted.length < RETURNS_ANSWER.length, `Martin's box holds "${interrupted}", not the start of the interrupted answer`);
  await martin.getByText(HINT).waitFor();
  // The AI's reply was cancelled: its "thinking…" must not linger in Martin's conversation.
  await martin.getByText("AI assistant is thinking…").waitFor({ state: "hidden" });
  const afterJoin = await visitorSees(visitor);
  check(!afterJoin.bubbles.some((b) => b.startsWith(interrupted.trim())), "the interrupted reply reached the widget");
  check((await w.locator(".tc-msg--partial").count()) === 0, "the widget still shows the AI's partial reply after the takeover");
  await shots.take(martin, "handoff-02-interrupted");
  step(`Martin took control while the assistant streamed its answer: his box holds "${interrupted}" with the hint; the widget dropped the partial reply`);

  await martin.getByRole("button", { name: "Discard" }).click();
  check((await martinBox.inputValue()) === "", "Discard left text in Martin's box");
  check((await martin.getByText(HINT).count()) === 0, "the hint is still shown after Discard");
  step("Martin discarded it: the box is empty again");

  // (c) A suggestion, inserted, edited and sent.
  await visitorSays(visitor, PAYMENT);
  await historyLog(martin).getByText(PAYMENT).waitFor();
  await martin.getByRole("button", { name: "Suggest", exact: true }).click();
  const panel = martin.getByRole("region", { name: "Suggested reply" });
  await panel.getByText(PAYMENT_ANSWER_START).waitFor();
  const suggestion = (await panel.locator(".assist__text").textContent())?.trim() ?? "";
  check(suggestion.startsWith(PAYMENT_ANSWER_START), `the suggestion is "${suggestion}"`);
  const beforeSent = await visitorSees(visitor);
  check(!beforeSent.text.includes(suggestion) && !beforeSent.state.includes(suggestion), "the suggestion reached the widget before Martin sent it");
  await shots.take(martin, "handoff-03-suggestion");
  step(`Martin pressed Suggest: "${suggestion}" shows above his box, and nowhere in the widget`);

  await panel.getByRole("button", { name: "Insert" }).click();
  await panel.waitFor({ state: "detached" });
  check((await martinBox.inputValue()) === suggestion, `Insert put "${await martinBox.inputValue()}" in the box`);
  // The caret is at the end of the inserted text: typing adds to it.
  await martin.keyboard.type(MARTIN_ADDS);
  await martinBox.press("Enter");
  const sent = `${suggestion}${MARTIN_ADDS}`;
  await historyLog(martin).getByText("Sent", { exact: true }).waitFor();
  await w.locator(".tc-msg--operator", { hasText: MARTIN_ADDS.trim() }).waitFor();
  const martinBubble = (await w.locator(".tc-msg--operator .tc-bubble").last().textContent())?.trim();
  check(martinBubble === sent, `the widget shows Martin's message as "${martinBubble}", not "${sent}"`);
  step("Martin inserted it, added a line and sent it: the widget shows his message");

  // (d) Martin transfers to Nora, who answers.
  await martin.getByRole("button", { name: "Transfer", exact: true }).click();
  const dialog = martin.getByRole("dialog");
  await dialog.getByRole("radio", { name: /Nora/ }).check();
  await dialog.getByRole("button", { name: /^Transfer to Nora/ }).click();
  await dialog.waitFor({ state: "detached" });
  await martin.locator(".controlbar__held").getByText(/Nora/).waitFor();
  check((await martin.getByRole("button", { name: "Suggest", exact: true }).count()) === 0, "Martin is still offered Suggest after the transfer");
  step("Martin transferred the conversation to Nora; he is offered Suggest no more");

  const notice = nora.getByRole("region", { name: "Conversations transferred to you" }).getByRole("alert");
  await notice.getByRole("button", { name: /^Open / }).click();
  await historyLog(nora).getByText(PAYMENT).waitFor();
  await nora.getByRole("region", { name: "Brief" }).getByText("Wants", { exact: true }).waitFor();
  check((await nora.getByText(HINT).count()) === 0, "Nora is shown the interrupted-reply hint meant for Martin");
  const noraBox = nora.getByRole("textbox", { name: "Message to the visitor" });
  check((await noraBox.inputValue()) === "", "Nora's box holds text she did not write");
  await noraBox.fill(NORA_REPLY);
  await noraBox.press("Enter");
  await historyLog(nora).getByText("Sent", { exact: true }).waitFor();
  await w.locator(".tc-msg--operator", { hasText: NORA_REPLY }).waitFor();
  await shots.take(visitor, "handoff-04-widget");
  step("Nora opened it from her notice (the brief is there for her too) and answered");

  // What the visitor's page holds.
  const joinsAndLeaves = (await widgetNotices(visitor)).filter((t) => / (joined|left) the chat$/.test(t ?? ""));
  const expected = [`${MARTIN_NAME} joined the chat`, `${MARTIN_NAME} left the chat`, `${NORA_NAME} joined the chat`];
  check(JSON.stringify(joinsAndLeaves) === JSON.stringify(expected), `the widget's notices are ${JSON.stringify(joinsAndLeaves)}`);
  const seen = await visitorSees(visitor);
  const messages = new Set(seen.bubbles.map((b) => b.trim()));
  // The brief's parts that are not simply a message of the chat (quoted as it is) are the team's.
  // (Its language is the visitor's own browser's, which the widget knows.)
  const briefParts = [brief.Wants, brief["AI answered"], brief["Why a human"]].filter((t) => t && !messages.has(t.trim()));
  const forbidden = [
    ...briefParts,
    "Preparing a brief",
    "No brief this time",
    "Why a human",
    "AI answered",
    "by knowledge assistant",
    HINT,
    "Use the AI's interrupted reply",
    "Suggested reply",
    "Asking the assistant",
  ];
  const leaked = forbidden.filter((t) => seen.text.includes(t) || seen.state.includes(t));
  check(leaked.length === 0, `the widget holds the team's text: ${JSON.stringify(leaked)}`);
  check(!seen.bubbles.some((b) => b.startsWith(interrupted.trim())), "the interrupted reply reached the widget");
  const withSuggestion = seen.bubbles.filter((b) => b.includes(suggestion));
  check(withSuggestion.length === 1 && withSuggestion[0]?.trim() === sent, `the suggestion shows in the widget as ${JSON.stringify(withSuggestion)}, not once as Martin sent it`);
  step(`the widget said ${expected.map((t) => `"${t}"`).join(", ")}; it holds nothing of the brief (${briefParts.length} parts checked), the hint, the suggestion panel or the interrupted text, and the suggestion only as Martin sent it`);

  const pageErrors = [...openPages.values()].flatMap((p) => p.errors);
  if (pageErrors.length > 0) throw new Error(`pages logged errors:\n    ${pageErrors.join("\n    ")}`);
  step(`screenshots in ${path.relative(process.cwd(), ARTIFACTS) || ARTIFACTS}`);
  if (DOC_SCREENSHOTS) shots.copyToDocs(DOC_FILES);
}

await run("Brief, interrupted reply, suggestion and transfer end-to-end", ARTIFACTS, main);
