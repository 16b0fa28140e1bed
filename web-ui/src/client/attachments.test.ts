// @vitest-environment node
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Attachment } from "../protocol/frames";
import { FakeHub } from "../test/fakeHub";
import { alice, history, operatorControl, ready } from "../test/fixtures";
import { HubClient } from "./hubClient";
import { reduce, resumeFrames, type ClientAction } from "./reducer";
import { initialState } from "./state";

const PDF: Attachment = { id: "f_pdf", name: "label.pdf", kind: "pdf", content_type: "application/pdf", size: 900 };
const SHOT: Attachment = { id: "f_shot", name: "shot.png", kind: "image", content_type: "image/png", size: 4_000, width: 10, height: 10 };

const opened: ClientAction[] = [
  { type: "frame", frame: ready() },
  { type: "open_requested", conversationId: "c1" },
  { type: "frame", frame: history("c1", [], { control: operatorControl(alice) }) },
];

describe("the composer's files in the client state", () => {
  it("are added, settle as uploaded or refused, and leave the box with the reply that carries them", () => {
    let s = opened.reduce(reduce, initialState);
    s = [
      { type: "composer_file_added", conversationId: "c1", file: { key: "k1", name: "label.pdf", size: 900, status: "uploading" } },
      { type: "composer_file_added", conversationId: "c1", file: { key: "k2", name: "x.svg", size: 9, status: "uploading" } },
      { type: "composer_file_added", conversationId: "c1", file: { key: "k3", name: "later.png", size: 9, status: "uploading" } },
      { type: "composer_file_settled", conversationId: "c1", key: "k1", attachment: PDF },
      { type: "composer_file_settled", conversationId: "c1", key: "k2", error: "Can't attach x.svg: only images (PNG, JPEG, WebP or GIF) and PDFs can be sent." },
    ].reduce<typeof s>((acc, a) => reduce(acc, a as ClientAction), s);
    expect(s.conversations.c1!.composerFiles.map((f) => [f.key, f.status])).toEqual([
      ["k1", "ready"],
      ["k2", "failed"],
      ["k3", "uploading"],
    ]);
    // A file removed while it uploads: its late answer changes nothing.
    const removed = reduce(s, { type: "composer_file_removed", conversationId: "c1", key: "k3" });
    expect(reduce(removed, { type: "composer_file_settled", conversationId: "c1", key: "k3", attachment: SHOT })).toBe(removed);

    s = reduce(s, { type: "message_queued", conversationId: "c1", clientId: "m1", text: "", at: 5, attachments: [PDF] });
    const c = s.conversations.c1!;
    expect(c.outbox[0]).toMatchObject({ clientId: "m1", text: "", attachments: [PDF] });
    // The sent and the refused ones go; the one still uploading stays for the next message.
    expect(c.composerFiles.map((f) => f.key)).toEqual(["k3"]);
  });

  it("a reconnect re-sends messages and notes with their files' ids", () => {
    const s = [
      ...opened,
      { type: "message_queued", conversationId: "c1", clientId: "m1", text: "Your label", at: 5, attachments: [PDF] },
      { type: "note_queued", conversationId: "c1", clientId: "n1", text: "", at: 6, attachments: [SHOT] },
      { type: "message_queued", conversationId: "c1", clientId: "m2", text: "plain", at: 7 },
    ].reduce((acc, a) => reduce(acc, a as ClientAction), initialState);
    const sent = resumeFrames(s).filter((f) => f.type === "message" || f.type === "note");
    expect(sent).toEqual([
      { type: "message", conversation_id: "c1", client_id: "m1", text: "Your label", attachments: ["f_pdf"] },
      { type: "message", conversation_id: "c1", client_id: "m2", text: "plain" },
      { type: "note", conversation_id: "c1", client_id: "n1", text: "", attachments: ["f_shot"] },
    ]);
  });
});

describe("HubClient with files", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends a reply and a note naming their files, and re-sends them under the same client id", async () => {
    const hub = new FakeHub();
    let ids = 0;
    const client = new HubClient({
      url: "ws://hub.test/ws/operator",
      getToken: async () => "jwt",
      connect: hub.connect,
      ackTimeoutMs: 4_000,
      now: () => Date.now(),
      newClientId: () => `m${++ids}`,
      scheduleFrame: (apply) => (apply(), () => {}),
    });
    client.start();
    await vi.advanceTimersByTimeAsync(0);
    hub.last.open();
    hub.last.receive(ready());
    client.openConversation("c1");
    hub.last.receive(history("c1", [], { control: operatorControl(alice) }));

    client.composerFileAdded("c1", { key: "k1", name: "label.pdf", size: 900, status: "uploading" });
    client.composerFileSettled("c1", "k1", { attachment: PDF });
    expect(client.getState().conversations.c1!.composerFiles[0]).toMatchObject({ status: "ready", attachment: PDF });
    client.sendMessage("c1", "", [PDF]);
    client.sendNote("c1", "for the team", [SHOT]);
    const frames = () => hub.last.sent.filter((f) => f.type === "message" || f.type === "note");
    expect(frames()).toEqual([
      { type: "message", conversation_id: "c1", client_id: "m1", text: "", attachments: ["f_pdf"] },
      { type: "note", conversation_id: "c1", client_id: "m2", text: "for the team", attachments: ["f_shot"] },
    ]);
    expect(client.getState().conversations.c1!.composerFiles).toEqual([]);

    // No answer: both go again, files and all.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(frames().slice(2)).toEqual(frames().slice(0, 2));
    client.stop();
  });
});
