#!/usr/bin/env node
// End-to-end test of attachments both ways (docs/files.md), seen from both sides: the real hub
// binary (files in a memory store: nothing is written under web-ui/), the built dashboard and the
// embeddable widget (dist/widget.js on the hub's demo shop page, /dev/demo) in headless Chromium.
// Run with `npm run e2e` (builds first, then runs every journey).
//
//   (a) A visitor on /dev/demo pastes a screenshot into the message box (a real paste event with
//       a PNG built in the page): it shows as a chip, uploads, and goes with an empty message.
//       The widget shows its thumbnail, loaded, which opens the full image in a new tab.
//   (b) Martin (operator) opens the conversation: the thumbnail is in his timeline; clicking it
//       opens the full image in a lightbox (loaded: naturalWidth > 0); Escape closes it.
//   (c) Martin takes control and answers with a PDF (the composer's file input) and a line of
//       text. The widget shows "📄 return-label.pdf (… B)"; fetching that link from the page
//       answers the PDF as a download (`Content-Disposition: attachment`) with `nosniff`.
//   (d) The visitor tries an SVG: refused before uploading, with the reason. A file named .png
//       that is an SVG gets past that check and is refused by the hub (415
//       `unsupported_file_type`), in the same words.
//
// Environment:
//   HUB_BIN       hub binary (default ../target/debug/hub, relative to web-ui/)
//   CHROMIUM_BIN  Chromium executable (default /usr/bin/chromium)
//   E2E_TIMEOUT_MS  deadline of each waiting step (default 15000)
//   E2E_FILES_ARTIFACTS  directory for this run's screenshots (default: a new temporary
//                   directory; its path is printed either way)
//   E2E_DOC_SCREENSHOTS=1  after a passing run, also copy files-01-widget.png and
//                   files-02-dashboard.png into ../docs/images/
//
// Every wait is for a selector, a response or a condition, bounded by a deadline that only turns
// a hang into a failure: nothing here sleeps to let something happen.

import path from "node:path";
import {
  DIST,
  DOC_SCREENSHOTS,
  artifactsDir,
  check,
  checkPrerequisites,
  launchBrowser,
  makePng,
  newPage,
  openPages,
  run,
  screenshots,
  startHub,
  step,
  historyLog,
  widget,
} from "./harness.mjs";

const ARTIFACTS = artifactsDir("E2E_FILES_ARTIFACTS", "take-control-files-e2e-");
const shots = screenshots(ARTIFACTS);
const DOC_FILES = ["files-01-widget.png", "files-02-dashboard.png"];

const SCREENSHOT = makePng(640, 400);
/** The smallest file the hub takes for a PDF: its signature, and its end marker. */
const PDF = Buffer.from("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>');
const REPLY = "Here is your return label: print it and stick it on the parcel.";
const REFUSED_TYPE = "only images (PNG, JPEG, WebP or GIF) and PDFs can be sent.";

/** Waits until `img` (a locator) shows a decoded picture; its natural size. */
async function loaded(page, img, what) {
  await img.waitFor();
  const handle = await page.waitForFunction((el) => (el.complete && el.naturalWidth > 0 ? { w: el.naturalWidth, h: el.naturalHeight, src: el.src } : null), await img.elementHandle());
  const size = await handle.jsonValue();
  check(size.w > 0, `${what} did not load`);
  return size;
}

async function main() {
  checkPrerequisites([["built widget", path.join(DIST, "widget.js"), "run `npm run build`"]]);

  const hubUrl = await startHub(["--file-store", "memory:", "--assistant-delay-ms", "50"]);
  step(`hub started at ${hubUrl} (files in memory)`);
  const browser = await launchBrowser();

  // (a) The visitor pastes a screenshot and sends it, without a word.
  const visitor = await newPage(browser, "visitor", { width: 1100, height: 800 });
  await visitor.goto(`${hubUrl}/dev/demo`);
  const w = widget(visitor);
  await w.locator(".tc-launcher").click();
  const conversationId = await visitor
    .waitForFunction(() => (window.TakeControlWidget?.getState().token ? window.TakeControlWidget.getState().conversationId : null))
    .then((h) => h.jsonValue());
  // A real paste event, carrying a PNG file built in the page, on the widget's message box.
  await visitor.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], "screenshot.png", { type: "image/png" }));
    const box = document.querySelector("take-control-widget").shadowRoot.querySelector("textarea");
    box.focus();
    box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true, composed: true }));
  }, SCREENSHOT.toString("base64"));
  // Uploaded: the chip gives its size instead of "uploading…".
  await w.locator(".tc-chip", { hasText: /^screenshot\.png \(\d+ KB\)/ }).waitFor();
  check(!(await w.locator(".tc-send").isDisabled()), "Send is still disabled with the file uploaded");
  const message = w.getByRole("textbox", { name: "Message" });
  await message.press("Enter"); // the box is empty: the file alone is the message
  await w.locator(".tc-chip").waitFor({ state: "detached" });
  const mine = w.locator(".tc-msg--visitor", { has: visitor.locator(".tc-thumb") });
  await mine.locator(".tc-state").waitFor({ state: "detached" }); // stored by the hub, not "Sending…"
  check((await mine.locator(".tc-bubble").count()) === 0, "the file-only message shows an empty bubble");
  const thumb = await loaded(visitor, mine.locator(".tc-thumb img"), "the widget's thumbnail");
  check(thumb.src.startsWith(`${hubUrl}/files/`) && thumb.src.includes("/thumb?"), `the widget's thumbnail loads from ${thumb.src}`);
  step(`the visitor pasted a screenshot (conversation ${conversationId}) and sent it alone; the widget shows its thumbnail (${thumb.w}×${thumb.h})`);

  // The thumbnail opens the full image in a new tab.
  const [tab] = await Promise.all([visitor.context().waitForEvent("page"), mine.locator(".tc-thumb").click()]);
  await tab.waitForLoadState();
  check(/\/files\/demo-pro\/[^/]+\/[^/]+\/file\?/.test(tab.url()), `the thumbnail opened ${tab.url()}, not the full image`);
  const full = await tab.evaluate(() => {
    const img = document.querySelector("img");
    return img ? { w: img.naturalWidth, h: img.naturalHeight } : null;
  });
  check(full?.w === 640 && full?.h === 400, `the new tab shows ${JSON.stringify(full)}, not the 640×400 screenshot`);
  await tab.close();
  step("clicking the thumbnail opened the full 640×400 image in a new tab");

  // (b) Martin sees it in his dashboard and opens it (a tall window: the screenshot shows the
  // whole exchange).
  const martin = await newPage(browser, "martin", { width: 1280, height: 1000 });
  await martin.goto(hubUrl);
  await martin.locator('[data-operator-id="martin"]').click();
  await martin.getByRole("status", { name: "Connection: Live" }).waitFor();
  await martin.locator(`[role="option"][data-conversation-id="${conversationId}"]`).click();
  const log = historyLog(martin);
  const opener = log.getByRole("button", { name: "Open screenshot.png (640×400)" });
  await loaded(martin, opener.locator("img"), "the dashboard's thumbnail");
  await opener.click();
  const lightbox = martin.getByRole("dialog", { name: "screenshot.png" });
  const big = await loaded(martin, lightbox.locator(".lightbox__img"), "the lightbox's image");
  check(big.w === 640 && big.h === 400, `the lightbox shows a ${big.w}×${big.h} image, not the full 640×400 one`);
  check(big.src.includes("/file?"), `the lightbox loads ${big.src}, not the full file`);
  await shots.take(martin, "files-03-lightbox");
  await martin.keyboard.press("Escape");
  await lightbox.waitFor({ state: "detached" });
  check(await opener.evaluate((el) => el === document.activeElement), "focus did not go back to the thumbnail");
  step(`Martin saw the thumbnail in his timeline; the lightbox showed the full image (${big.w}×${big.h}); Escape closed it`);

  // (c) Martin takes control and answers with a PDF.
  await martin.getByRole("button", { name: "Take Control", exact: true, disabled: false }).click();
  const box = martin.getByRole("textbox", { name: "Message to the visitor" });
  await box.waitFor();
  await martin.locator('.composer input[type="file"]').setInputFiles({ name: "return-label.pdf", mimeType: "application/pdf", buffer: PDF });
  await martin.getByRole("list", { name: "Attached files" }).getByText(`return-label.pdf (${PDF.length} B)`).waitFor();
  await box.fill(REPLY);
  await box.press("Enter");
  const sent = log.locator(".msg--own", { hasText: REPLY });
  await sent.getByText("Sent", { exact: true }).waitFor();
  await sent.locator(".files__pdf", { hasText: "return-label.pdf" }).waitFor();
  step("Martin took control and answered with return-label.pdf; his message shows Sent, with the file");

  const pdfLink = w.locator(".tc-msg--operator", { hasText: REPLY }).locator("a.tc-file");
  await pdfLink.getByText(`📄 return-label.pdf (${PDF.length} B)`, { exact: true }).waitFor();
  await visitor.waitForFunction((a) => a.href.includes("/file?"), await pdfLink.elementHandle());
  const href = await pdfLink.getAttribute("href");
  const served = await visitor.evaluate(async (url) => {
    const res = await fetch(url);
    return {
      status: res.status,
      type: res.headers.get("content-type"),
      disposition: res.headers.get("content-disposition"),
      nosniff: res.headers.get("x-content-type-options"),
      head: (await res.text()).slice(0, 8),
    };
  }, href);
  check(served.status === 200, `the PDF link answered ${served.status}`);
  check(served.disposition?.startsWith("attachment"), `the PDF is served with Content-Disposition "${served.disposition}", not as a download`);
  check(served.nosniff === "nosniff", `the PDF is served with X-Content-Type-Options "${served.nosniff}"`);
  check(served.type === "application/pdf" && served.head === "%PDF-1.4", `the PDF link served ${served.type} "${served.head}…"`);
  // The Online list's counts come with the hub's next list update (at most every 250 ms): the
  // screenshot waits for them to show the takeover.
  await martin.getByRole("button", { name: "Mine (1)" }).waitFor();
  await martin.getByRole("button", { name: "Needs a human (0)" }).waitFor();
  // The brief folded, so the screenshot has room for the visitor's file and Martin's answer.
  const fold = martin.getByRole("button", { name: "Brief", expanded: true });
  if ((await fold.count()) > 0) {
    await fold.click();
    await martin.getByRole("button", { name: "Brief", expanded: false }).waitFor();
  }
  await shots.take(martin, "files-02-dashboard");
  // A phone's width: the open chat fills the screen, so the screenshot shows the whole exchange.
  await visitor.setViewportSize({ width: 412, height: 860 });
  await w.locator(".tc-launcher").waitFor({ state: "hidden" });
  await shots.take(visitor, "files-01-widget");
  step(`the widget shows "📄 return-label.pdf (${PDF.length} B)"; its link serves the PDF as a download (${served.disposition.split(";")[0]}, nosniff)`);

  // (d) An SVG is refused, before uploading and by the hub, in plain words.
  const picker = w.locator('input[type="file"]');
  await picker.setInputFiles({ name: "logo.svg", mimeType: "image/svg+xml", buffer: SVG });
  const refusedSvg = w.getByRole("alert").filter({ hasText: `Can't attach logo.svg: ${REFUSED_TYPE}` });
  await refusedSvg.waitFor();
  // The hub's refusal (415) is logged by the browser as a failed resource: expected here.
  visitor.allowed.push(/status of 415/);
  const refusedByHub = visitor.waitForResponse((r) => r.url().includes("/api/files?name=fake.png"));
  await picker.setInputFiles({ name: "fake.png", mimeType: "image/png", buffer: SVG });
  const answer = await refusedByHub;
  const problem = await answer.json();
  check(answer.status() === 415 && problem.code === "unsupported_file_type", `the hub answered ${answer.status()} ${JSON.stringify(problem)}`);
  await w.getByRole("alert").filter({ hasText: `Can't attach fake.png: ${REFUSED_TYPE}` }).waitFor();
  check(await w.locator(".tc-send").isDisabled() === false, "Send is disabled by refused files");
  await shots.take(visitor, "files-04-widget-refused");
  await w.getByRole("button", { name: "Remove logo.svg" }).click();
  await refusedSvg.waitFor({ state: "detached" });
  step("an SVG was refused before uploading, and an SVG named fake.png by the hub (415 unsupported_file_type), both in plain words; × removes a refusal");

  const pageErrors = [...openPages.values()].flatMap((p) => p.errors);
  check(pageErrors.length === 0, `pages logged errors:\n    ${pageErrors.join("\n    ")}`);
  if (DOC_SCREENSHOTS) shots.copyToDocs(DOC_FILES);
}

await run("Files end-to-end", ARTIFACTS, main);
