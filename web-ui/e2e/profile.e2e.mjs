#!/usr/bin/env node
// End-to-end test of the operator profile, seen from both sides: the real hub binary, the built
// dashboard and the embeddable widget (dist/widget.js on the hub's demo shop page, /dev/demo) in
// headless Chromium. Run with `npm run e2e` (builds first, then runs take-control.e2e.mjs and this).
//
//   (a) No profile: a visitor on /dev/demo writes; Nora takes control and answers. The widget
//       says "Human joined the chat" and shows the placeholder avatar.
//   (b) Martin opens Assistant → Settings → Live chat operator, types "Martin from Support",
//       uploads a square PNG (a non-square one first: the hub's reason is shown verbatim),
//       previews (his name and his avatar, drawn by the widget's own code) and saves. A second
//       visitor writes; Martin takes control and answers. The widget says "Martin from Support
//       joined the chat", and his bubble's header has that name and the avatar, loaded.
//
// Environment:
//   HUB_BIN       hub binary (default ../target/debug/hub, relative to web-ui/)
//   CHROMIUM_BIN  Chromium executable (default /usr/bin/chromium)
//   E2E_TIMEOUT_MS  deadline of each waiting step (default 15000)
//   E2E_PROFILE_ARTIFACTS  directory for this run's screenshots (default: a new temporary
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
  checkPrerequisites,
  launchBrowser,
  makePng,
  newPage,
  openPages,
  run,
  screenshots,
  startHub,
  step,
} from "./harness.mjs";

const ARTIFACTS = artifactsDir("E2E_PROFILE_ARTIFACTS", "take-control-profile-e2e-");
const shots = screenshots(ARTIFACTS);

const DISPLAY_NAME = "Martin from Support";

// --- browsers --------------------------------------------------------------------------------

async function signIn(browser, hubUrl, operatorId) {
  const page = await newPage(browser, operatorId);
  await page.goto(hubUrl);
  await page.locator(`[data-operator-id="${operatorId}"]`).click();
  await page.getByRole("status", { name: "Connection: Live" }).waitFor();
  return page;
}

// The widget's DOM is in an open shadow root; Playwright's CSS and text locators reach into it.
const widget = (page) => page.locator("take-control-widget");

/** A visitor on the demo shop: opens the chat, writes, waits for the assistant's answer. */
async function visitorWrites(browser, hubUrl, who, text) {
  const page = await newPage(browser, who, { width: 1100, height: 800 });
  await page.goto(`${hubUrl}/dev/demo`);
  await widget(page).locator(".tc-launcher").click();
  const box = widget(page).getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
  const mine = widget(page).locator(".tc-msg--visitor", { hasText: text });
  await mine.waitFor();
  await mine.locator(".tc-state").waitFor({ state: "detached" }); // stored by the hub, not "Sending…"
  // Waiting for the assistant's answer (stored, not a reply still being streamed) keeps it from
  // racing the takeover (a reply in flight at a takeover is dropped, by design).
  await widget(page).locator(".tc-msg--ai:not(.tc-msg--partial)").first().waitFor();
  const conversationId = await page.waitForFunction(() => window.TakeControlWidget?.getState().conversationId ?? null).then((h) => h.jsonValue());
  return { page, conversationId };
}

/** The operator opens the conversation, takes control, and answers. */
async function takeOverAndReply(page, conversationId, question, reply) {
  await page.locator(`[role="option"][data-conversation-id="${conversationId}"]`).click();
  const log = page.getByRole("log", { name: "Conversation history" });
  await log.getByText(question).waitFor();
  await page.getByRole("button", { name: "Take Control", exact: true, disabled: false }).click();
  const box = page.getByRole("textbox", { name: "Message to the visitor" });
  await box.fill(reply);
  await box.press("Enter");
  await log.getByText("Sent", { exact: true }).waitFor();
}

/** Whether the operator bubble's avatar in the widget has loaded (a real picture, not a broken one). */
async function widgetAvatarLoaded(page) {
  const handle = await page.waitForFunction(() => {
    const root = document.querySelector("take-control-widget")?.shadowRoot;
    const img = root?.querySelector(".tc-msg--operator .tc-author img");
    return img && img.complete && img.naturalWidth > 0 ? { src: img.src, width: img.naturalWidth } : null;
  });
  return handle.jsonValue();
}

// --- the scenario ----------------------------------------------------------------------------

async function main() {
  checkPrerequisites([["built widget", path.join(DIST, "widget.js"), "run `npm run build`"]]);

  const hubUrl = await startHub(["--assistant-delay-ms", "50"]);
  step(`hub started at ${hubUrl}`);
  const browser = await launchBrowser();

  // (a) No profile: visitors see "Human" and the placeholder.
  const questionA = "I need help with my order";
  const first = await visitorWrites(browser, hubUrl, "visitor-1", questionA);
  step(`a visitor on /dev/demo wrote (conversation ${first.conversationId}); the assistant answered in the widget`);

  const nora = await signIn(browser, hubUrl, "nora");
  await takeOverAndReply(nora, first.conversationId, questionA, "Hello, a person here. Let me look.");
  step("Nora (no profile) took control and answered");

  const w1 = widget(first.page);
  await w1.locator(".tc-notice", { hasText: "Human joined the chat" }).waitFor();
  const noraBubble = w1.locator(".tc-msg--operator", { hasText: "Hello, a person here." });
  await noraBubble.locator(".tc-author .tc-name", { hasText: "Human" }).waitFor();
  await noraBubble.locator(".tc-author [data-placeholder] svg").waitFor();
  if ((await noraBubble.locator("img").count()) !== 0) throw new Error("the operator without a profile has an <img> avatar");
  const whoA = await w1.locator(".tc-who").textContent();
  if (whoA !== "Human") throw new Error(`the widget's status line says "${whoA}", not "Human"`);
  await shots.take(first.page, "profile-01-widget-human");
  step('the widget said "Human joined the chat" and showed the placeholder avatar');

  // (b) Martin sets up his profile.
  const martin = await signIn(browser, hubUrl, "martin");
  await martin.getByRole("button", { name: "Assistant", exact: true }).click();
  await martin.getByRole("tab", { name: "Settings" }).click();
  await martin.getByRole("button", { name: /Live chat operator/ }).click();
  const nameBox = martin.getByRole("textbox", { name: "Display name" });
  await nameBox.fill(DISPLAY_NAME);

  // A wide image first: the hub refuses it and its words are shown as they are.
  martin.allowed.push(/status of 422/);
  await martin.getByLabel("Avatar image").setInputFiles({ name: "wide.png", mimeType: "image/png", buffer: makePng(300, 200) });
  await martin.getByRole("alert").getByText("The image is 300×200 px; it must be square.", { exact: true }).waitFor();
  martin.allowed.pop();
  step("a 300×200 upload was refused with the hub's reason, shown verbatim");

  await martin.getByLabel("Avatar image").setInputFiles({ name: "martin.png", mimeType: "image/png", buffer: makePng(200, 200) });
  await martin.getByRole("img", { name: "Your avatar" }).waitFor();
  await martin.getByRole("button", { name: "Preview in chat" }).click();
  const preview = martin.getByRole("figure", { name: "Preview in chat" });
  await preview.locator(".tc-notice", { hasText: `${DISPLAY_NAME} joined the chat` }).waitFor();
  await preview.locator(".tc-msg--operator .tc-author .tc-name", { hasText: DISPLAY_NAME }).waitFor();
  const previewImg = preview.locator(".tc-msg--operator .tc-author img");
  await previewImg.waitFor();
  await martin.waitForFunction(
    (img) => img.complete && img.naturalWidth > 0,
    await previewImg.elementHandle(),
  );
  await shots.take(martin, "profile-02-settings-preview");
  step(`the preview showed "${DISPLAY_NAME}" and the uploaded avatar, loaded`);

  await martin.getByRole("button", { name: "Save", exact: true }).click();
  await martin.getByRole("status").filter({ hasText: "Saved." }).filter({ hasText: `“${DISPLAY_NAME}”` }).waitFor();
  await shots.take(martin, "profile-03-settings-saved");
  step("saved; the dashboard says it applies to new Take Control sessions");

  // A new visitor, and Martin takes over with his profile.
  const questionB = "Where is my order?";
  const second = await visitorWrites(browser, hubUrl, "visitor-2", questionB);
  if (second.conversationId === first.conversationId) throw new Error("the second visitor resumed the first one's conversation");
  await martin.getByRole("button", { name: /^Conversation/ }).click(); // "Conversation" and maybe a waiting count
  const reply = "Hi, I'm looking at your order now.";
  await takeOverAndReply(martin, second.conversationId, questionB, reply);
  step("Martin took control of the second visitor's chat and answered");

  const w2 = widget(second.page);
  await w2.locator(".tc-notice", { hasText: `${DISPLAY_NAME} joined the chat` }).waitFor();
  const martinBubble = w2.locator(".tc-msg--operator", { hasText: reply });
  await martinBubble.locator(".tc-author .tc-name", { hasText: DISPLAY_NAME }).waitFor();
  const avatar = await widgetAvatarLoaded(second.page);
  if (!avatar.src.startsWith(`${hubUrl}/avatars/`)) throw new Error(`the avatar loads from ${avatar.src}, not the hub's /avatars/`);
  const whoB = await w2.locator(".tc-who").textContent();
  if (whoB !== `${DISPLAY_NAME} (human)`) throw new Error(`the widget's status line says "${whoB}"`);
  await shots.take(second.page, "profile-04-widget-martin");
  step(`the widget said "${DISPLAY_NAME} joined the chat"; his bubble's header has his name and avatar (${avatar.width} px wide, loaded)`);

  const pageErrors = [...openPages.values()].flatMap((p) => p.errors);
  if (pageErrors.length > 0) throw new Error(`pages logged errors:\n    ${pageErrors.join("\n    ")}`);
  if (DOC_SCREENSHOTS) shots.copyToDocs();
}

await run("Operator profile end-to-end", ARTIFACTS, main);
