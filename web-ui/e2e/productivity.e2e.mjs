#!/usr/bin/env node
// End-to-end test of the operators' productivity tools, seen from both sides: the real hub binary,
// the built dashboard and the embeddable widget (dist/widget.js on the hub's demo shop page,
// /dev/demo) in headless Chromium. Run with `npm run e2e` (builds first, then runs every journey).
//
//   (a) Olivia (owner) creates a saved reply under Assistant → Settings → Saved replies.
//   (b) A visitor on /dev/demo writes. Martin (operator) opens the conversation: the side panel
//       shows the visitor's page (title and link), language and local time. The visitor moves
//       to another page of the shop with history.pushState: the panel follows, live.
//   (c) Martin writes an internal note while the AI holds the conversation: the dashboard shows
//       it as a note; the widget's page never contains its text.
//   (d) Martin takes control, types / and the shortcut, presses Enter: the reply's text is put
//       in the box, not sent. He adds to it and sends; the visitor sees the whole text.
//   (e) "Yesterday's conversation": another visitor wrote about a kayak and left. The hub runs
//       with a one-second inactivity period (--conversation-idle-secs 1), so it leaves the
//       Online list (awaited on the DOM); Martin searches "kayak" on the Recent tab, opens the
//       result and reads its history read-only (no Take Control, no Reply; notes still offered).
//
// Environment:
//   HUB_BIN       hub binary (default ../target/debug/hub, relative to web-ui/)
//   CHROMIUM_BIN  Chromium executable (default /usr/bin/chromium)
//   E2E_TIMEOUT_MS  deadline of each waiting step (default 15000)
//   E2E_PRODUCTIVITY_ARTIFACTS  directory for this run's screenshots (default: a new temporary
//                   directory; its path is printed either way)
//   E2E_DOC_SCREENSHOTS=1  after a passing run, also copy the screenshots the docs use
//                   (operator-note, canned-replies, visitor-context, recent-search) into ../docs/images/
//
// Every wait is for a selector, a frame or a condition, bounded by a deadline that only turns a
// hang into a failure: nothing here sleeps to let something happen.

import path from "node:path";
import {
  DIST,
  DOC_SCREENSHOTS,
  artifactsDir,
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

const ARTIFACTS = artifactsDir("E2E_PRODUCTIVITY_ARTIFACTS", "take-control-productivity-e2e-");
const shots = screenshots(ARTIFACTS);
const DOC_FILES = ["canned-replies.png", "visitor-context.png", "operator-note.png", "recent-search.png"];

const WORKSPACE = "demo-pro";
const REPLY = {
  title: "Return label",
  shortcut: "returns",
  text: "I have emailed you a prepaid return label. Drop the parcel at any post office within 30 days.",
};
const QUESTION = "Hi, I would like to return my hiking boots";
const NOTE = "Boots bought 3 weeks ago: inside the 60-day window, approve the return";
const ADDED = " Your refund follows once it reaches us.";
/** The demo assistant answers it ("return"), so it asks for no human; "kayak" is what is searched. */
const YESTERDAY = "Can I return a kayak paddle that arrived cracked?";

// --- browsers --------------------------------------------------------------------------------

async function signIn(browser, hubUrl, operatorId) {
  const page = await newPage(browser, operatorId, { width: 1400, height: 860 });
  await page.goto(hubUrl);
  await page.locator(`[data-operator-id="${operatorId}"]`).click();
  await page.getByRole("status", { name: "Connection: Live" }).waitFor();
  return page;
}

// The widget's DOM is in an open shadow root; Playwright's CSS and text locators reach into it.
const widget = (page) => page.locator("take-control-widget");
const historyLog = (page) => page.getByRole("log", { name: "Conversation history" });
const onlineRow = (page, id) => page.getByRole("listbox", { name: "Online conversations" }).locator(`[data-conversation-id="${id}"]`);
const sidePanel = (page) => page.getByRole("complementary", { name: "About the visitor" });

/** Whether `text` occurs anywhere in the visitor's page: its own DOM or the widget's shadow root. */
function pageContains(page, text) {
  return page.evaluate((t) => {
    const root = document.querySelector("take-control-widget")?.shadowRoot;
    return document.documentElement.outerHTML.includes(t) || (root?.innerHTML ?? "").includes(t);
  }, text);
}

// --- the scenario ----------------------------------------------------------------------------

async function main() {
  checkPrerequisites([["built widget", path.join(DIST, "widget.js"), "run `npm run build`"]]);

  // A conversation whose visitor has gone leaves the Online list after a second without activity
  // (checked every 200 ms), so "yesterday's conversation" is a few seconds away, not a day.
  const hubUrl = await startHub(["--assistant-delay-ms", "50", "--conversation-idle-secs", "1", "--sweep-interval-ms", "200"]);
  step(`hub started at ${hubUrl}`);
  const browser = await launchBrowser();

  // (e, first half) Olivia watches the Online list while yesterday's visitor writes and leaves.
  const olivia = await signIn(browser, hubUrl, "olivia");
  const yesterday = await plainVisitor(hubUrl);
  await yesterday.write(YESTERDAY);
  // Its answer first: the assistant's reply is activity that would keep the conversation online.
  await yesterday.next((f) => f.type === "event" && f.event.type === "message" && f.event.author.kind === "ai", "the assistant's answer");
  await onlineRow(olivia, yesterday.conversationId).waitFor();
  await yesterday.leave();
  step(`a visitor wrote "${YESTERDAY}" (conversation ${yesterday.conversationId}) and left`);

  // (a) A saved reply.
  await olivia.getByRole("button", { name: "Assistant", exact: true }).click();
  await olivia.getByRole("tab", { name: "Settings" }).click();
  await olivia.getByRole("button", { name: /Saved replies/ }).click();
  await olivia.getByRole("button", { name: "New reply" }).click();
  const form = olivia.getByRole("form", { name: "Add reply" });
  await form.getByLabel("Title", { exact: true }).fill(REPLY.title);
  await form.getByLabel("Shortcut", { exact: true }).fill(REPLY.shortcut);
  await form.getByLabel("Text", { exact: true }).fill(REPLY.text);
  await form.getByRole("button", { name: "Add reply" }).click();
  const saved = olivia.getByRole("list", { name: "Saved replies" }).getByRole("listitem").filter({ hasText: `/${REPLY.shortcut}` });
  await saved.getByText(REPLY.title, { exact: true }).waitFor();
  await form.waitFor({ state: "detached" });
  await shots.take(olivia, "saved-replies-settings");
  step(`Olivia (owner) saved the reply "${REPLY.title}" as /${REPLY.shortcut}`);

  // (b) The visitor, on the shop's page.
  const visitor = await newPage(browser, "visitor", { width: 1100, height: 800 });
  await visitor.goto(`${hubUrl}/dev/demo`);
  const firstTitle = await visitor.title();
  await widget(visitor).locator(".tc-launcher").click();
  const visitorBox = widget(visitor).getByRole("textbox", { name: "Message" });
  await visitorBox.fill(QUESTION);
  await visitorBox.press("Enter");
  const mine = widget(visitor).locator(".tc-msg--visitor", { hasText: QUESTION });
  await mine.waitFor();
  await mine.locator(".tc-state").waitFor({ state: "detached" });
  // The assistant's stored answer (not one still streaming) must not race the takeover below.
  await widget(visitor).locator(".tc-msg--ai:not(.tc-msg--partial)").first().waitFor();
  const conversationId = await visitor.waitForFunction(() => window.TakeControlWidget?.getState().conversationId ?? null).then((h) => h.jsonValue());
  step(`a visitor on /dev/demo wrote (conversation ${conversationId})`);

  // Martin signs in now: saved replies are loaded once per session, so he gets Olivia's.
  const martin = await signIn(browser, hubUrl, "martin");
  await onlineRow(martin, conversationId).click();
  await historyLog(martin).getByText(QUESTION).waitFor();
  const panel = sidePanel(martin);
  await panel.getByRole("link", { name: `${hubUrl}/dev/demo`, exact: true }).waitFor();
  await panel.getByText(firstTitle, { exact: true }).waitFor();
  await panel.locator('[data-fact="time"]').waitFor();
  await panel.locator('[data-fact="language"]').waitFor();
  step(`Martin opened it; the side panel shows "${firstTitle}", its link, the language and the local time`);

  await visitor.evaluate(() => {
    history.pushState({}, "", "/dev/demo/returns");
    document.title = "Returns · Acme Outdoor";
  });
  const returnsUrl = `${hubUrl}/dev/demo/returns`;
  const returnsLink = panel.getByRole("link", { name: returnsUrl, exact: true });
  await returnsLink.waitFor();
  await panel.getByText("Returns · Acme Outdoor", { exact: true }).waitFor();
  check((await returnsLink.getAttribute("href")) === returnsUrl, "the page's link does not point at the page");
  await shots.take(martin, "visitor-context");
  step("the visitor moved to /dev/demo/returns (pushState); the panel followed live");

  // (c) A note, while the AI holds the conversation.
  await martin.getByRole("button", { name: "Take Control", exact: true, disabled: false }).waitFor();
  const noteBox = martin.getByRole("textbox", { name: "Internal note" });
  await noteBox.fill(NOTE);
  await noteBox.press("Enter");
  const note = historyLog(martin).locator("li.note", { hasText: NOTE });
  await note.waitFor();
  await note.getByText("Saving…").waitFor({ state: "detached" });
  await note.getByText("Martin Keller (you)").waitFor();
  await shots.take(martin, "operator-note");
  step("Martin wrote an internal note while the AI holds the conversation; it shows as a note");

  // (d) Take control, then a saved reply.
  await martin.getByRole("button", { name: "Take Control", exact: true }).click();
  await widget(visitor).locator(".tc-notice", { hasText: "joined the chat" }).waitFor();
  const box = martin.getByRole("textbox", { name: "Message to the visitor" });
  await box.waitFor();
  await box.pressSequentially(`/${REPLY.shortcut.slice(0, 3)}`);
  const menu = martin.getByRole("listbox", { name: "Saved replies" });
  const option = menu.getByRole("option").filter({ hasText: `/${REPLY.shortcut}` });
  await option.waitFor();
  check((await option.getAttribute("aria-selected")) === "true", "the saved reply is not the active row");
  await shots.take(martin, "canned-replies");
  await box.press("Enter");
  await menu.waitFor({ state: "detached" });
  check((await box.inputValue()) === REPLY.text, `the box holds "${await box.inputValue()}", not the saved reply's text`);
  check((await historyLog(martin).getByText(REPLY.text).count()) === 0, "Enter in the saved replies sent the message");
  step(`Martin took control, typed /${REPLY.shortcut.slice(0, 3)} and Enter: the text is in the box, not sent`);

  await box.pressSequentially(ADDED);
  await box.press("Enter");
  const sent = `${REPLY.text}${ADDED}`;
  await widget(visitor).locator(".tc-msg--operator", { hasText: sent }).waitFor();
  await historyLog(martin).getByText("Sent", { exact: true }).waitFor();
  step("he added to it and sent it; the visitor received the whole text");

  // The note's frame came before the takeover's, and the reply after both reached the widget:
  // had the note gone to the widget at all, it would be there by now.
  check(!(await pageContains(visitor, NOTE)), "the note's text is in the visitor's page");
  check(!(await pageContains(visitor, "Boots bought")), "part of the note's text is in the visitor's page");
  step("the visitor's page (its DOM and the widget's shadow root) never contained the note");

  // (e, second half) Yesterday's conversation has left the Online list; Martin finds it.
  await olivia.getByRole("button", { name: /^Conversation/ }).click();
  await onlineRow(olivia, yesterday.conversationId).waitFor({ state: "detached" });
  step("yesterday's conversation left the Online list");

  await martin.getByRole("tab", { name: "Recent" }).click();
  await martin.getByRole("listbox", { name: "Recent conversations" }).locator(`[data-conversation-id="${yesterday.conversationId}"]`).waitFor();
  const search = martin.getByRole("searchbox", { name: "Search conversations" });
  await search.fill("KAYAK");
  await search.press("Enter");
  const result = martin.getByRole("listbox", { name: "Search results" }).locator(`[data-conversation-id="${yesterday.conversationId}"]`);
  await result.waitFor();
  await result.click();
  const view = martin.getByRole("region", { name: /^Conversation with / });
  await historyLog(martin).getByText(YESTERDAY).waitFor();
  await view.getByText("Read-only", { exact: true }).waitFor();
  check(await view.getByRole("button", { name: "Take Control", exact: true }).isDisabled(), "Take Control is offered for a conversation whose visitor left");
  check(await view.getByRole("button", { name: "Reply", exact: true }).isDisabled(), "Reply is offered for a conversation whose visitor left");
  await view.getByRole("textbox", { name: "Internal note" }).waitFor();
  await shots.take(martin, "recent-search");
  step('Martin searched "KAYAK" on the Recent tab, opened yesterday\'s conversation and read it, read-only');

  const pageErrors = [...openPages.values()].flatMap((p) => p.errors);
  if (pageErrors.length > 0) throw new Error(`pages logged errors:\n    ${pageErrors.join("\n    ")}`);
  if (DOC_SCREENSHOTS) shots.copyToDocs(DOC_FILES);
}

await run("Notes, saved replies, visitor context, Recent and search end-to-end", ARTIFACTS, main);
