#!/usr/bin/env node
// End-to-end test of Transfer: the real hub binary, the built dashboard and the embeddable widget
// (dist/widget.js on the hub's demo shop page, /dev/demo) in headless Chromium. Run with
// `npm run e2e` (builds first).
//
//   Martin ("Martin from Support") and Nora ("Nora from Support", with an avatar) are signed in,
//   each in their own browser context with their own token. A visitor writes in the widget;
//   Martin takes control and answers, then clicks Transfer, picks Nora, writes a note and
//   confirms. Nora's dashboard alerts her with the note; she opens the conversation (the note is
//   among its internal notes) and answers. The widget says "Martin from Support left the chat",
//   "Nora from Support joined the chat", shows Nora's reply under her name and avatar, and never
//   the note.
//
// Environment:
//   HUB_BIN       hub binary (default ../target/debug/hub, relative to web-ui/)
//   CHROMIUM_BIN  Chromium executable (default /usr/bin/chromium)
//   E2E_TIMEOUT_MS  deadline of each waiting step (default 15000)
//   E2E_SCREENSHOTS directory for the screenshots (default e2e/artifacts/, gitignored, as
//                   take-control.e2e.mjs); this script's are transfer-NN-name.png, and a failed
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
  checkPrerequisites,
  launchBrowser,
  makePng,
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
/** The operator guide's Transfer section shows these. */
const DOC_FILES = ["transfer-01-dialog.png", "transfer-02-received.png"];

const MARTIN_NAME = "Martin from Support";
const NORA_NAME = "Nora from Support";
const QUESTION = "My boots leak. Can I get a refund?";
const MARTIN_REPLY = "Hi, I'm Martin. I'm approving a refund for you now.";
const NOTE = "Refund approved; she still needs the return label (order 48213).";
const NORA_REPLY = "Hi, Nora here. I'm sending your return label now.";


// --- browsers --------------------------------------------------------------------------------


/** A visitor on the demo shop: opens the chat, writes, waits for the assistant's stored answer. */
async function visitorWrites(browser, hubUrl, text) {
  const page = await newPage(browser, "visitor", { width: 1100, height: 800 });
  await page.goto(`${hubUrl}/dev/demo`);
  await widget(page).locator(".tc-launcher").click();
  const box = widget(page).getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
  const mine = widget(page).locator(".tc-msg--visitor", { hasText: text });
  await mine.waitFor();
  await mine.locator(".tc-state").waitFor({ state: "detached" }); // stored by the hub, not "Sending…"
  // Waiting for the assistant's stored answer keeps it from racing the takeover (a reply in
  // flight at a takeover is dropped, by design).
  await widget(page).locator(".tc-msg--ai:not(.tc-msg--partial)").first().waitFor();
  const conversationId = await page
    .waitForFunction(() => window.TakeControlWidget?.getState().conversationId ?? null)
    .then((h) => h.jsonValue());
  return { page, conversationId };
}

// --- the scenario ----------------------------------------------------------------------------

async function main() {
  checkPrerequisites([["built widget", path.join(DIST, "widget.js"), "run `npm run build`"]]);
  prepareArtifacts(ARTIFACTS, /^transfer-\d\d-[a-z0-9-]+\.png$/);

  const hubUrl = await startHub(["--assistant-delay-ms", "50"]);
  step(`hub started at ${hubUrl}`);

  const operators = await (await fetch(`${hubUrl}/dev/operators`)).json();
  const byId = (id) => {
    const op = operators.find((o) => o.id === id);
    if (!op) throw new Error(`/dev/operators lists no "${id}"`);
    return op;
  };
  const [martinOp, noraOp] = [byId("martin"), byId("nora")];
  if (martinOp.workspace_id !== noraOp.workspace_id || !["pro", "business"].includes(martinOp.plan)) {
    throw new Error("martin and nora must share a Pro or Business workspace");
  }
  await saveProfile(hubUrl, "martin", MARTIN_NAME);
  const noraProfile = await saveProfile(hubUrl, "nora", NORA_NAME, makePng(200, 200));
  step(`saved the profiles "${MARTIN_NAME}" and "${NORA_NAME}" (with an avatar) through the profile API, each with their own token`);

  const browser = await launchBrowser();
  // Both online before anything happens: Nora must be listed when Martin transfers.
  const martin = await signIn(browser, hubUrl, "martin");
  const nora = await signIn(browser, hubUrl, "nora");
  step(`${martinOp.name} and ${noraOp.name} signed in, each in their own browser context`);

  const visitor = await visitorWrites(browser, hubUrl, QUESTION);
  step(`a visitor on /dev/demo wrote (conversation ${visitor.conversationId}); the assistant answered in the widget`);

  // Martin takes over and answers.
  await martin.locator(`[role="option"][data-conversation-id="${visitor.conversationId}"]`).click();
  await historyLog(martin).getByText(QUESTION).waitFor();
  const label = (await martin.locator(".conversation__title").textContent())?.trim();
  if (!label) throw new Error("the conversation has no visitor label");
  await martin.getByRole("button", { name: "Take Control", exact: true, disabled: false }).click();
  const martinBox = martin.getByRole("textbox", { name: "Message to the visitor" });
  await martinBox.fill(MARTIN_REPLY);
  await martinBox.press("Enter");
  await historyLog(martin).getByText("Sent", { exact: true }).waitFor();
  const w = widget(visitor.page);
  await w.locator(".tc-notice", { hasText: `${MARTIN_NAME} joined the chat` }).waitFor();
  await w.locator(".tc-msg--operator", { hasText: MARTIN_REPLY }).waitFor();
  step(`${martinOp.name} took control of ${label} and answered; the widget said "${MARTIN_NAME} joined the chat"`);

  // Martin transfers to Nora with a note.
  const transfer = martin.getByRole("button", { name: "Transfer", exact: true });
  await transfer.click();
  const dialog = martin.getByRole("dialog", { name: `Transfer ${label}` });
  await dialog.waitFor();
  const noraChoice = dialog.getByRole("radio", { name: new RegExp(noraOp.name) });
  await noraChoice.waitFor();
  const offered = await dialog.getByRole("radio").count();
  if ((await dialog.getByRole("radio", { name: new RegExp(martinOp.name) }).count()) !== 0) {
    throw new Error("the dialog offers Martin, who holds the conversation, as a recipient");
  }
  await noraChoice.check();
  await dialog.getByRole("textbox", { name: "Note for them (optional)" }).fill(NOTE);
  await shots.take(martin, "transfer-01-dialog");
  await dialog.getByRole("button", { name: `Transfer to ${noraOp.name}` }).click();
  await dialog.waitFor({ state: "detached" });
  const heldBy = martin.locator(".controlbar__held");
  await heldBy.getByText(/Nora/).waitFor();
  step(`${martinOp.name} picked ${noraOp.name} among ${offered} online teammate(s), wrote a note and confirmed; the dialog closed and his bar says "${(await heldBy.textContent())?.trim()}"`);

  const martinNotices = await historyLog(martin).locator(".notice > span").allTextContents();
  const lastTwo = martinNotices.slice(-2);
  if (!/^Martin .*\(you\) left the chat/.test(lastTwo[0] ?? "") || !/^Nora .*joined the chat/.test(lastTwo[1] ?? "")) {
    throw new Error(`Martin's history ends with ${JSON.stringify(lastTwo)}, not Martin leaving and Nora joining`);
  }
  if ((await martin.getByRole("textbox", { name: "Message to the visitor" }).count()) !== 0) {
    throw new Error("Martin can still reply after the transfer");
  }
  step(`Martin's history says ${JSON.stringify(lastTwo)}; he can no longer reply`);

  // Nora is alerted, reads the note, opens the conversation and answers.
  const notice = nora.getByRole("region", { name: "Conversations transferred to you" }).getByRole("alert");
  await notice.getByText(new RegExp(`transferred ${label} to you`)).waitFor();
  await notice.getByText(NOTE).waitFor();
  const noticeTitle = (await notice.locator(".transfer-notice__title").textContent())?.trim();
  // The Online list follows too (its frames come at most every 250 ms): Nora holds it, "Mine".
  const noraRow = nora.locator(`[role="option"][data-conversation-id="${visitor.conversationId}"]`);
  await noraRow.locator(".chip--operator", { hasText: NORA_NAME }).waitFor();
  await nora.getByRole("button", { name: "Mine (1)" }).waitFor();
  await shots.take(nora, "transfer-02-received");
  step(`${noraOp.name}'s dashboard alerted her: "${noticeTitle}", with the note`);

  await notice.getByRole("button", { name: `Open ${label}` }).click();
  await historyLog(nora).getByText(QUESTION).waitFor();
  await historyLog(nora).locator(".note", { hasText: NOTE }).waitFor();
  await nora.getByRole("region", { name: "Conversations transferred to you" }).waitFor({ state: "detached" });
  const noraBox = nora.getByRole("textbox", { name: "Message to the visitor" });
  await noraBox.waitFor();
  await noraBox.fill(NORA_REPLY);
  await noraBox.press("Enter");
  await historyLog(nora).getByText("Sent", { exact: true }).waitFor();
  await shots.take(nora, "transfer-03-recipient-answers");
  step(`${noraOp.name} opened it from the notice (the note is among its internal notes), holds it and answered`);

  // What the visitor saw.
  await w.locator(".tc-notice", { hasText: `${NORA_NAME} joined the chat` }).waitFor();
  const noraBubble = w.locator(".tc-msg--operator", { hasText: NORA_REPLY });
  await noraBubble.locator(".tc-author .tc-name", { hasText: NORA_NAME }).waitFor();
  const notices = await widgetNotices(visitor.page);
  const expected = [`${MARTIN_NAME} joined the chat`, `${MARTIN_NAME} left the chat`, `${NORA_NAME} joined the chat`];
  if (JSON.stringify(notices) !== JSON.stringify(expected)) throw new Error(`the widget's notices are ${JSON.stringify(notices)}`);
  const avatar = await visitor.page
    .waitForFunction(() => {
      const msgs = document.querySelector("take-control-widget")?.shadowRoot?.querySelectorAll(".tc-msg--operator") ?? [];
      const img = [...msgs].at(-1)?.querySelector(".tc-author img");
      return img && img.complete && img.naturalWidth > 0 ? img.src : null;
    })
    .then((h) => h.jsonValue());
  if (!avatar.endsWith(noraProfile.avatar_url)) throw new Error(`Nora's bubble shows ${avatar}, not her avatar ${noraProfile.avatar_url}`);
  const who = (await w.locator(".tc-who").textContent())?.trim();
  if (who !== `${NORA_NAME} (human)`) throw new Error(`the widget's header says "${who}"`);
  // Neither shown nor held: the note is the team's alone.
  const leaked = await visitor.page.evaluate(
    (note) => ({
      dom: document.querySelector("take-control-widget")?.shadowRoot?.textContent?.includes(note) ?? false,
      state: JSON.stringify(window.TakeControlWidget?.getState() ?? {}).includes(note),
    }),
    NOTE,
  );
  if (leaked.dom || leaked.state) throw new Error(`the note reached the visitor's widget (${JSON.stringify(leaked)})`);
  await shots.take(visitor.page, "transfer-04-widget");
  step(`the widget said ${expected.map((t) => `"${t}"`).join(", ")}; Nora's reply shows under her name and avatar; the note is nowhere in it`);

  const pageErrors = [...openPages.values()].flatMap((p) => p.errors);
  if (pageErrors.length > 0) throw new Error(`pages logged errors:\n    ${pageErrors.join("\n    ")}`);
  step(`screenshots in ${path.relative(process.cwd(), ARTIFACTS) || ARTIFACTS}`);
  if (DOC_SCREENSHOTS) shots.copyToDocs(DOC_FILES);
}

await run("Transfer end-to-end", ARTIFACTS, main);
