#!/usr/bin/env node
// End-to-end test of a follow-up when nobody is available (docs/widget.md "When nobody is
// available", docs/operator-guide.md "Follow-up: when nobody was available"): the real hub binary
// (`--human-wait-ms 1500`, emails through a local aiosmtpd server into a Maildir, sent as soon as
// they are due: `--follow-up-delay-ms 0`), the built dashboard and the embeddable widget
// (dist/widget.js on the hub's demo shop page, /dev/demo) in headless Chromium. Run with
// `npm run e2e` (builds first, then runs every journey).
//
//   (a) A visitor on /dev/demo writes, then presses "Talk to a human"; nobody takes over within
//       1.5 s: the widget shows the workspace's away message and the email prompt (field, consent
//       text, Send, No thanks). An invalid address is refused under the field; a valid one is
//       taken: "We'll answer you at …".
//   (b) Martin signs in: the Follow-up tab counts 1; its row shows the visitor, "Nobody answered
//       in time" and the address. He opens it: the follow-up banner. The visitor closes the page;
//       the conversation shows them offline, and the banner says the reply will be emailed.
//   (c) Martin takes control and answers: the banner says "Emailed at …", the row leaves the
//       Follow-up list.
//   (d) The email in the Maildir: To the visitor's address, Subject "<workspace> answered your
//       message", from --smtp-from, the answer under Martin's name, and the reopen link
//       `<hub>/dev/demo#tc-reopen=<token>`.
//   (e) A fresh browser opens the link: the widget opens by itself on the same conversation,
//       with its history and Martin's answer, and the address bar no longer holds `#tc-reopen`;
//       Martin sees the visitor online again (no more "also emailed" line).
//
// Needs python3 with aiosmtpd (`. scripts/lib.sh; need_py aiosmtpd "aiosmtpd==1.4.6"`).
//
// Environment:
//   HUB_BIN       hub binary (default ../target/debug/hub, relative to web-ui/)
//   CHROMIUM_BIN  Chromium executable (default /usr/bin/chromium)
//   PYTHON        Python with aiosmtpd (default python3)
//   E2E_TIMEOUT_MS  deadline of each waiting step (default 15000)
//   E2E_FOLLOW_UP_ARTIFACTS  directory for this run's screenshots (default: a new temporary
//                   directory; its path is printed either way); a failed run adds
//                   failure-<who>.png of every open page
//   E2E_DOC_SCREENSHOTS=1  after a passing run, also copy the screenshots listed in DOC_FILES
//                   into ../docs/images/
//
// Every wait is for a selector, a condition, a greeting or a process exit, bounded by a deadline
// that only turns a hang into a failure: nothing here sleeps to let something happen.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import {
  DIST,
  DOC_SCREENSHOTS,
  artifactsDir,
  check,
  checkPrerequisites,
  cleanups,
  historyLog,
  launchBrowser,
  newPage,
  openPages,
  run,
  saveProfile,
  STEP_MS,
  screenshots,
  signIn,
  startHub,
  step,
  widget,
  withDeadline,
} from "./harness.mjs";

const ARTIFACTS = artifactsDir("E2E_FOLLOW_UP_ARTIFACTS", "take-control-follow-up-e2e-");
const shots = screenshots(ARTIFACTS);
const DOC_FILES = ["follow-up-01-widget-email.png", "follow-up-03-banner.png", "follow-up-05-reopened.png"];
const PYTHON = process.env.PYTHON ?? "python3";

const HUMAN_WAIT_MS = 1500;
const SMTP_FROM = "help@demo.example";
/** demo-pro's name (hub/src/dev.rs): the sender's name and the subject's start. */
const WORKSPACE_NAME = "Acme Outdoor (Pro)";
const MARTIN_NAME = "Martin from Support";
/** The hub's defaults (hub/src/directory.rs): the dev workspaces set no away text of their own. */
const AWAY_MESSAGE = "No one from our team is available right now. Leave your email and we'll answer you there; meanwhile the assistant keeps helping you.";
const CONSENT = "We'll use your email address only to answer this conversation.";
const INVALID_EMAIL = "That does not look like an email address. Check it and send it again.";

/** One the demo assistant answers itself (shipping): the request for a human is the visitor's alone. */
const QUESTION = "My order 4711 should arrive this week, but its tracking shows nothing.";
const BAD_ADDRESS = "ana.visitor@";
const ADDRESS = "ana.visitor@example.com";
const ANSWER = "Hi Ana, I found order 4711: the courier lost it. A replacement ships today, tracking follows by email.";

// --- the mail server -------------------------------------------------------------------------

/** A TCP port nobody listens on right now. */
async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => (server.once("error", reject), server.listen(0, "127.0.0.1", resolve)));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The first line the server at `port` sends, or the connection's error. */
function greeting(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setEncoding("utf8");
    socket.once("error", reject);
    socket.once("close", () => reject(new Error(`the SMTP server on port ${port} closed the connection without a greeting`)));
    let got = "";
    socket.on("data", (chunk) => {
      got += chunk;
      if (!got.includes("\n")) return;
      socket.end("QUIT\r\n");
      resolve(got.split("\n")[0].trim());
    });
  });
}

/**
 * aiosmtpd on a free port, storing what it receives in the Maildir `dir`; resolves once the port
 * greets with 220. Stopped (and waited for) at cleanup.
 */
async function startSmtp(dir) {
  const port = await freePort();
  const child = spawn(PYTHON, ["-m", "aiosmtpd", "-n", "-l", `127.0.0.1:${port}`, "-c", "aiosmtpd.handlers.Mailbox", dir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const output = [];
  for (const s of [child.stdout, child.stderr]) createInterface({ input: s }).on("line", (l) => output.push(l));
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    try {
      await withDeadline(exited, "aiosmtpd shutdown", 5_000);
    } catch {
      child.kill("SIGKILL");
      await exited;
    }
  });
  // The server is up when the port answers 220; until then a connection is refused. Tries again
  // every 25 ms (a poll of the condition, not a wait for it to come true) until the greeting, the
  // process's exit or the deadline.
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    try {
      const line = await greeting(port);
      check(line.startsWith("220"), `the SMTP server on port ${port} greeted with "${line}", not 220`);
      return { port, line };
    } catch (e) {
      if (!(e instanceof Error && "code" in e && e.code === "ECONNREFUSED")) throw e;
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`aiosmtpd exited before greeting (code ${child.exitCode}, signal ${child.signalCode}):\n    ${output.join("\n    ")}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${STEP_MS} ms: aiosmtpd on port ${port} to greet with 220`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// --- reading the email -----------------------------------------------------------------------

/** The messages in the Maildir `dir` (new/ and cur/), as raw text. */
function maildirMessages(dir) {
  return ["new", "cur"].flatMap((sub) => {
    const d = path.join(dir, sub);
    return existsSync(d) ? readdirSync(d).map((f) => readFileSync(path.join(d, f), "latin1")) : [];
  });
}

/** RFC 2047 encoded words (`=?utf-8?q?…?=`, `=?utf-8?b?…?=`) in a header, decoded. */
function decodeWords(value) {
  return value
    .replace(/\?=\s+=\?/g, "?==?") // whitespace between encoded words is not part of the text
    .replace(/=\?([^?]+)\?([bqBQ])\?([^?]*)\?=/g, (_, _charset, enc, text) =>
      enc.toLowerCase() === "b"
        ? Buffer.from(text, "base64").toString("utf8")
        : Buffer.from(text.replace(/_/g, " ").replace(/=([0-9A-Fa-f]{2})/g, (_m, h) => String.fromCharCode(parseInt(h, 16))), "latin1").toString("utf8"),
    );
}

/** Quoted-printable: soft line breaks (`=` at a line's end) joined, `=XX` turned into its byte. */
function decodeQuotedPrintable(text) {
  const bytes = text.replace(/=\r?\n/g, "").replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, "latin1").toString("utf8");
}

/** A single-part email's headers (lower-case names, unfolded, decoded) and its decoded body. */
function parseEmail(raw) {
  const text = raw.replace(/\r\n/g, "\n");
  const split = text.indexOf("\n\n");
  check(split > 0, `the stored email has no header/body separator:\n${raw.slice(0, 500)}`);
  const headers = {};
  for (const line of text.slice(0, split).replace(/\n[ \t]+/g, " ").split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = decodeWords(line.slice(colon + 1).trim());
  }
  const encoding = (headers["content-transfer-encoding"] ?? "7bit").toLowerCase();
  const rawBody = text.slice(split + 2);
  const body =
    encoding === "quoted-printable"
      ? decodeQuotedPrintable(rawBody)
      : encoding === "base64"
        ? Buffer.from(rawBody.replace(/\s+/g, ""), "base64").toString("utf8")
        : Buffer.from(rawBody, "latin1").toString("utf8");
  return { headers, encoding, body };
}

// --- the widget ------------------------------------------------------------------------------

/** The visitor writes and waits until the hub has stored it (no more "Sending…"). */
async function visitorSays(page, text) {
  const box = widget(page).getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
  const mine = widget(page).locator(".tc-msg--visitor", { hasText: text });
  await mine.waitFor();
  await mine.locator(".tc-state").waitFor({ state: "detached" });
}

// --- the scenario ----------------------------------------------------------------------------

async function main() {
  checkPrerequisites([["built widget", path.join(DIST, "widget.js"), "run `npm run build`"]]);
  const hasSmtpd = spawnSync(PYTHON, ["-c", "import aiosmtpd"], { stdio: "ignore" });
  check(hasSmtpd.status === 0, `${PYTHON} cannot import aiosmtpd: install it with \`. scripts/lib.sh; need_py aiosmtpd "aiosmtpd==1.4.6"\`, or set PYTHON`);

  // The Maildir itself is made by aiosmtpd (with new/, cur/ and tmp/): it must not exist yet.
  const mailRoot = mkdtempSync(path.join(os.tmpdir(), "take-control-follow-up-mail-"));
  cleanups.push(() => rmSync(mailRoot, { recursive: true, force: true }));
  const maildir = path.join(mailRoot, "Maildir");
  const smtp = await startSmtp(maildir);
  step(`aiosmtpd listening on 127.0.0.1:${smtp.port} ("${smtp.line}"), storing into ${maildir}`);

  const hubUrl = await startHub([
    "--assistant-delay-ms",
    "50",
    "--human-wait-ms",
    String(HUMAN_WAIT_MS),
    "--smtp-url",
    `smtp://127.0.0.1:${smtp.port}`,
    "--smtp-from",
    SMTP_FROM,
    "--follow-up-delay-ms",
    "0",
  ]);
  step(`hub started at ${hubUrl} (--human-wait-ms ${HUMAN_WAIT_MS}, --smtp-url smtp://127.0.0.1:${smtp.port}, --follow-up-delay-ms 0)`);
  await saveProfile(hubUrl, "martin", MARTIN_NAME);
  const browser = await launchBrowser();

  // (a) The visitor asks for a human; nobody takes over in time; they leave an address.
  const visitor = await newPage(browser, "visitor", { width: 1100, height: 800 });
  await visitor.goto(`${hubUrl}/dev/demo`);
  const w = widget(visitor);
  await w.locator(".tc-launcher").click();
  await visitorSays(visitor, QUESTION);
  await w.locator(".tc-msg--ai:not(.tc-msg--partial)").first().waitFor();
  const conversationId = await visitor
    .waitForFunction(() => window.TakeControlWidget?.getState().conversationId ?? null)
    .then((h) => h.jsonValue());
  const aiAnswer = (await w.locator(".tc-msg--ai .tc-bubble").first().textContent())?.trim() ?? "";
  check(!/human teammate/.test(aiAnswer), `the assistant itself asked for a human ("${aiAnswer}"): the visitor's request would not be the only one`);
  const askHuman = w.getByRole("button", { name: "Talk to a human" });
  check(await askHuman.isVisible(), "the widget does not offer \"Talk to a human\" after the assistant's answer");
  await askHuman.click();
  const requested = w.locator(".tc-notice", { hasText: "A teammate has been asked to join" });
  await requested.waitFor();
  step(`a visitor on /dev/demo asked "${QUESTION}" (conversation ${conversationId}), then pressed "Talk to a human"`);

  const away = w.locator(".tc-away");
  await away.waitFor().catch((e) => {
    throw new Error(`no away message in the widget ${HUMAN_WAIT_MS} ms after the request (no human_request_expired?): ${e.message}`);
  });
  const awayText = (await away.textContent())?.trim();
  check(awayText === AWAY_MESSAGE, `the widget's away message says "${awayText}", not the workspace's "${AWAY_MESSAGE}"`);
  check((await requested.count()) === 1, `the widget shows ${await requested.count()} requests for a human, not the visitor's one`);
  const prompt = w.getByRole("form", { name: "Get our answer by email" });
  await prompt.waitFor();
  const emailField = prompt.getByRole("textbox", { name: "Your email (optional)" });
  await emailField.waitFor();
  check((await emailField.getAttribute("type")) === "email", "the email prompt's field is not an email field");
  await prompt.getByText(CONSENT, { exact: true }).waitFor();
  await prompt.getByRole("button", { name: "Send", exact: true }).waitFor();
  await prompt.getByRole("button", { name: "No thanks", exact: true }).waitFor();
  // The away message comes after the request's notice, and the prompt right under it.
  const order = await visitor.evaluate(() =>
    [...(document.querySelector("take-control-widget")?.shadowRoot?.querySelector(".tc-log")?.children ?? [])].map((n) => `${n.className}: ${n.textContent?.slice(0, 40)}`),
  );
  const requestAt = order.findIndex((c) => c.includes("A teammate has been asked to join"));
  const awayAt = order.findIndex((c) => c.includes("tc-away"));
  check(requestAt >= 0 && awayAt > requestAt, `the away message does not follow the request's notice: ${JSON.stringify(order)}`);
  check(order[awayAt + 1]?.startsWith("tc-prompt"), `the email prompt is not right under the away message: ${JSON.stringify(order)}`);
  await shots.take(visitor, "follow-up-00-widget-away");
  step(`nobody took over within ${HUMAN_WAIT_MS} ms: the widget shows the away message and the email prompt (field, consent text, Send, No thanks)`);

  await emailField.fill(BAD_ADDRESS);
  await prompt.getByRole("button", { name: "Send", exact: true }).click();
  const refusal = prompt.getByRole("alert");
  await refusal.getByText(INVALID_EMAIL, { exact: true }).waitFor();
  check((await emailField.getAttribute("aria-invalid")) === "true", "the refused address's field is not marked invalid");
  check((await emailField.inputValue()) === BAD_ADDRESS, "the refused address was wiped from the field");
  step(`"${BAD_ADDRESS}" was refused under the field: "${INVALID_EMAIL}"`);

  await emailField.fill(ADDRESS);
  await prompt.getByRole("button", { name: "Send", exact: true }).click();
  const left = w.locator(".tc-left", { hasText: `We'll answer you at ${ADDRESS}` });
  await left.waitFor();
  await prompt.waitFor({ state: "detached" });
  check((await requested.count()) === 1, `the widget shows ${await requested.count()} requests for a human after the address was left`);
  check((await w.getByRole("button", { name: "Talk to a human" }).isVisible()), "the widget no longer offers \"Talk to a human\" after the request expired");
  await shots.take(visitor, "follow-up-01-widget-email");
  step(`"${ADDRESS}" was taken: the widget says "We'll answer you at ${ADDRESS}" and the prompt is gone`);

  // (b) Martin finds it on the Follow-up list; the visitor leaves.
  const martin = await signIn(browser, hubUrl, "martin");
  const tab = martin.getByRole("tab", { name: /^Follow-up/ });
  await tab.locator(".badge--follow-up", { hasText: /^1$/ }).waitFor().catch((e) => {
    throw new Error(`the Follow-up tab does not count 1 waiting conversation (says "${e.message.split("\n")[0]}")`);
  });
  await tab.click();
  const list = martin.getByRole("listbox", { name: "Waiting for follow-up" });
  const row = list.locator(`[role="option"][data-conversation-id="${conversationId}"]`);
  await row.waitFor();
  check((await list.getByRole("option").count()) === 1, `the Follow-up list has ${await list.getByRole("option").count()} rows, not 1`);
  const visitorLabel = (await row.locator(".row__label").textContent())?.trim() ?? "";
  check(/^Visitor /.test(visitorLabel), `the Follow-up row names the visitor "${visitorLabel}"`);
  await row.getByText("Nobody answered in time", { exact: true }).waitFor();
  const rowEmail = (await row.locator(".chip--email").textContent())?.trim();
  check(rowEmail === ADDRESS, `the Follow-up row shows the email "${rowEmail}", not "${ADDRESS}"`);
  await shots.take(martin, "follow-up-02-list");
  step(`Martin signed in: the Follow-up tab counts 1; its row shows ${visitorLabel}, "Nobody answered in time" and ${ADDRESS}`);

  await row.click();
  const view = martin.getByRole("region", { name: `Conversation with ${visitorLabel}` });
  await historyLog(martin).getByText(QUESTION).waitFor();
  const banner = view.getByRole("region", { name: "Follow-up" });
  await banner.locator(".follow-up__title", { hasText: "Waiting for follow-up" }).waitFor();
  const title = (await banner.locator(".follow-up__title").textContent())?.trim() ?? "";
  check(title.endsWith("· Nobody answered in time"), `the banner's title says "${title}"`);
  const bannerEmail = (await banner.locator(".follow-up__email").first().textContent())?.trim();
  check(bannerEmail === ADDRESS, `the banner shows the email "${bannerEmail}", not "${ADDRESS}"`);
  await historyLog(martin).getByText(ADDRESS).waitFor();
  step(`he opened it: the banner says "${title}", Visitor's email: ${ADDRESS}`);

  await visitor.close();
  const presence = view.locator(".conversation__sub");
  await presence.getByText("Offline").waitFor().catch((e) => {
    throw new Error(`the conversation does not show the visitor offline after they closed the page: ${e.message.split("\n")[0]}`);
  });
  await banner.getByText(`Your reply will also be emailed to ${ADDRESS}.`).waitFor();
  await shots.take(martin, "follow-up-03-banner");
  step(`the visitor closed the page: the conversation shows them offline and the banner "Your reply will also be emailed to ${ADDRESS}."`);

  // (c) Martin takes control and answers; the answer is emailed.
  await martin.getByRole("button", { name: "Take Control", exact: true, disabled: false }).click();
  const box = martin.getByRole("textbox", { name: "Message to the visitor" });
  await box.fill(ANSWER);
  await box.press("Enter");
  await historyLog(martin).locator(".msg--own", { hasText: ANSWER }).getByText("Sent", { exact: true }).waitFor();
  const delivery = banner.locator(".follow-up__delivery");
  await delivery.getByText(/^Emailed at /).waitFor().catch(async (e) => {
    const now = (await delivery.count()) > 0 ? await delivery.textContent() : "(no delivery line)";
    throw new Error(`the banner never said the answer was emailed; it says "${now}": ${e.message.split("\n")[0]}`);
  });
  const deliveryText = (await delivery.textContent())?.trim();
  check((await banner.locator(".follow-up__title").count()) === 0, "the banner still says the conversation waits for follow-up after Martin's answer");
  await row.waitFor({ state: "detached" });
  check((await tab.locator(".badge--follow-up").count()) === 0, "the Follow-up tab still counts a waiting conversation after the answer");
  await shots.take(martin, "follow-up-04-emailed");
  step(`Martin took control and answered: the banner says "${deliveryText}", and the row left the Follow-up list`);

  // (d) The email.
  const mails = maildirMessages(maildir);
  check(mails.length === 1, `the Maildir holds ${mails.length} emails, not 1`);
  const mail = parseEmail(mails[0]);
  check(mail.headers.to?.includes(ADDRESS), `the email goes To "${mail.headers.to}", not ${ADDRESS}`);
  check(mail.headers.from?.includes(SMTP_FROM), `the email comes From "${mail.headers.from}", not ${SMTP_FROM}`);
  check(mail.headers.from?.includes(WORKSPACE_NAME), `the email's sender name is not the workspace's: From "${mail.headers.from}"`);
  const subject = `${WORKSPACE_NAME} answered your message`;
  check(mail.headers.subject === subject, `the email's Subject is "${mail.headers.subject}", not "${subject}"`);
  check(mail.body.includes(`${MARTIN_NAME}:\n  ${ANSWER}`), `the email's body does not hold the answer under "${MARTIN_NAME}:":\n${mail.body}`);
  const link = /^(https?:\/\/\S*#tc-reopen=\S+)$/m.exec(mail.body)?.[1];
  check(link, `the email holds no reopen link:\n${mail.body}`);
  check(link.startsWith(`${hubUrl}/dev/demo#tc-reopen=`), `the reopen link is ${link}, not on the page the visitor chatted on (${hubUrl}/dev/demo)`);
  step(`the email (${mail.encoding}) went to ${ADDRESS} from "${mail.headers.from}", Subject "${subject}", with the answer and the reopen link ${link.replace(/=.*$/, "=…")}`);

  // (e) The link, in a fresh browser: the conversation reopens.
  const back = await newPage(browser, "visitor-back", { width: 1100, height: 800 });
  await back.goto(link);
  const wb = widget(back);
  await wb.locator(".tc-panel").waitFor({ state: "visible" }).catch((e) => {
    throw new Error(`the widget did not open by itself from the reopen link: ${e.message.split("\n")[0]}`);
  });
  await wb.locator(".tc-msg--operator", { hasText: ANSWER }).waitFor();
  await wb.locator(".tc-msg--visitor", { hasText: QUESTION }).waitFor();
  await wb.locator(".tc-left", { hasText: ADDRESS }).waitFor();
  const reopened = await back.evaluate(() => ({
    href: location.href,
    hash: location.hash,
    conversationId: window.TakeControlWidget?.getState().conversationId ?? null,
  }));
  check(!reopened.href.includes("tc-reopen"), `the address still holds the token: ${reopened.href}`);
  check(reopened.hash === "", `the address keeps a fragment "${reopened.hash}"`);
  check(reopened.conversationId === conversationId, `the link reopened conversation ${reopened.conversationId}, not ${conversationId}`);
  check((await wb.locator(".tc-prompt").count()) === 0, "the reopened widget asks for an email again though Martin has answered");
  // The hub took the link's token for the same visitor: Martin sees them back in his conversation.
  await presence.getByText("Online").waitFor().catch((e) => {
    throw new Error(`Martin's conversation does not show the visitor back online after the reopen: ${e.message.split("\n")[0]}`);
  });
  await banner.getByText(`Your reply will also be emailed to ${ADDRESS}.`).waitFor({ state: "detached" });
  await shots.take(back, "follow-up-05-reopened");
  step(`the link opened the widget by itself on conversation ${conversationId} with its history and Martin's answer (Martin sees the visitor online again); the address is ${reopened.href.replace(hubUrl, "")}`);

  const pageErrors = [...openPages.values()].flatMap((p) => p.errors);
  check(pageErrors.length === 0, `pages logged errors:\n    ${pageErrors.join("\n    ")}`);
  if (DOC_SCREENSHOTS) shots.copyToDocs(DOC_FILES);
}

await run("Follow-up by email when nobody is available, end-to-end", ARTIFACTS, main);
