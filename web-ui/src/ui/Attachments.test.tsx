import { fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { Attachment, ConversationEvent, Note } from "../protocol/frames";
import type { FilesApi, Link, PendingFile } from "../api/files";
import { alice, bob, history, operatorControl, operatorMessage, visitorMessage } from "../test/fixtures";
import { frame, renderView, stateWith } from "../test/liveView";
import { Composer, type ComposerActions, type ComposerProps } from "./Composer";

const SHOT: Attachment = { id: "f_shot", name: "screenshot.png", kind: "image", content_type: "image/png", size: 40_721, width: 1280, height: 800 };
const PDF: Attachment = { id: "f_pdf", name: "return-label.pdf", kind: "pdf", content_type: "application/pdf", size: 40_960 };
const NOTE_PIC: Attachment = { id: "f_note", name: "receipt.jpg", kind: "image", content_type: "image/jpeg", size: 2_048, width: 300, height: 600 };

const linkOf = (id: string, n = 1, staleAt = Date.now() + 240_000): Link => ({
  id,
  url: `/files/ws/c1/${id}/file?exp=${n}`,
  thumbnail_url: `/files/ws/c1/${id}/thumb?exp=${n}`,
  expires_at: staleAt + 60_000,
  staleAt,
});

/** A files API whose links come at once, numbered per request for each file. */
function fakeFiles(over: Partial<FilesApi> = {}) {
  const asked = new Map<string, number>();
  const api = {
    upload: vi.fn<FilesApi["upload"]>(),
    link: vi.fn(async (_cid: string, id: string): Promise<Link | null> => {
      const n = (asked.get(id) ?? 0) + 1;
      asked.set(id, n);
      return linkOf(id, n);
    }),
    forget: vi.fn<FilesApi["forget"]>(),
    ...over,
  };
  return api;
}

const withFiles = (e: ConversationEvent, attachments: Attachment[]): ConversationEvent => ({ ...e, attachments }) as ConversationEvent;

function conversation(files: FilesApi) {
  const note: Note = { id: 1, after_seq: 2, at: 5, author: bob, text: "", attachments: [NOTE_PIC] };
  return renderView(
    stateWith([
      frame(
        history(
          "c1",
          [
            withFiles(visitorMessage(1, ""), [SHOT]),
            withFiles(operatorMessage(2, alice, "Here is your label."), [PDF]),
          ],
          { control: operatorControl(alice), notes: [note] },
        ),
      ),
    ]),
    { files },
  );
}

describe("attachments in the timeline", () => {
  it("shows an image as its thumbnail, a PDF as a download link, in messages and notes", async () => {
    const files = fakeFiles();
    conversation(files);
    const log = screen.getByRole("log", { name: "Conversation history" });
    const open = await within(log).findByRole("button", { name: "Open screenshot.png (1280×800)" });
    const thumb = within(open).getByRole("img", { name: "screenshot.png" });
    expect(thumb).toHaveAttribute("src", "/files/ws/c1/f_shot/thumb?exp=1");
    // Its box is known before it loads: 1280×800 within 240×180.
    expect(thumb).toHaveAttribute("width", "240");
    expect(thumb).toHaveAttribute("height", "150");
    // The visitor sent the file alone: no empty text line.
    expect(open.closest(".msg")?.querySelector(".msg__text")).toBeNull();

    // The icon is drawn, not read: the link's name is the file's.
    const pdf = await within(log).findByRole("link", { name: "return-label.pdf (40 KB)" });
    expect(pdf).toHaveTextContent("📄 return-label.pdf (40 KB)");
    expect(pdf).toHaveAttribute("href", "/files/ws/c1/f_pdf/file?exp=1");
    expect(pdf).toHaveAttribute("download", "return-label.pdf");
    expect(pdf.closest(".msg")).toHaveTextContent("Here is your label.");

    const noteRow = log.querySelector(".note")!;
    expect(within(noteRow as HTMLElement).getByRole("img", { name: "receipt.jpg" })).toHaveAttribute("src", "/files/ws/c1/f_note/thumb?exp=1");
    expect(noteRow.querySelector(".note__text")).toBeNull();
    expect(files.link).toHaveBeenCalledWith("c1", "f_shot");
  });

  it("opens the full image in a lightbox; Escape closes it and gives focus back to the thumbnail", async () => {
    conversation(fakeFiles());
    const open = await screen.findByRole("button", { name: "Open screenshot.png (1280×800)" });
    await userEvent.click(open);
    const box = screen.getByRole("dialog", { name: "screenshot.png" });
    expect(box).toHaveAttribute("aria-modal", "true");
    const full = await within(box).findByRole("img", { name: "screenshot.png" });
    expect(full.getAttribute("src")).toMatch(/^\/files\/ws\/c1\/f_shot\/file\?exp=\d$/);
    expect(within(box).getByRole("link", { name: "Open in new tab" })).toHaveAttribute("target", "_blank");
    expect(box).toHaveTextContent("1280×800 · 40 KB");
    expect(within(box).getByRole("button", { name: "Close" })).toHaveFocus();
    // Tab stays in the lightbox.
    await userEvent.tab();
    expect(within(box).getByRole("link", { name: "Open in new tab" })).toHaveFocus();
    await userEvent.tab({ shift: true });
    expect(within(box).getByRole("button", { name: "Close" })).toHaveFocus();

    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(open).toHaveFocus();

    // Close, and a click beside the image, close it too.
    await userEvent.click(open);
    await userEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Close" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    await userEvent.click(open);
    await userEvent.click(screen.getByRole("dialog"));
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("asks once more for a thumbnail that fails to load, then says it is unavailable", async () => {
    const files = fakeFiles();
    conversation(files);
    const img = await screen.findByRole("img", { name: "screenshot.png" });
    fireEvent.error(img);
    expect(files.forget).toHaveBeenCalledWith("c1", "f_shot");
    await vi.waitFor(() => expect(screen.getByRole("img", { name: "screenshot.png" })).toHaveAttribute("src", "/files/ws/c1/f_shot/thumb?exp=2"));
    fireEvent.error(screen.getByRole("img", { name: "screenshot.png" }));
    expect(await screen.findByText("screenshot.png (unavailable)")).toBeInTheDocument();
  });

  it("downloads a stale PDF link only once it has been asked for again", async () => {
    let now = Date.now();
    vi.spyOn(Date, "now").mockImplementation(() => now);
    let n = 0;
    const link = vi.fn(async (_c: string, id: string) => linkOf(id, ++n, now + 240_000));
    const files = fakeFiles({ link });
    conversation(files);
    const pdf = await screen.findByRole("link", { name: "return-label.pdf (40 KB)" });
    const downloads: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      downloads.push(`${this.getAttribute("href")} as ${this.download}`);
    });
    // What React's handler decided (it runs before the window hears the click), then no navigation in jsdom.
    const followed: boolean[] = [];
    const record = (e: Event) => {
      followed.push(!e.defaultPrevented);
      e.preventDefault();
    };
    window.addEventListener("click", record);
    try {
      fireEvent.click(pdf);
      expect(followed).toEqual([true]); // fresh: followed as it is
      const asked = link.mock.calls.length;

      now += 5 * 60_000;
      fireEvent.click(pdf);
      expect(followed).toEqual([true, false]); // stale: held back…
      // …until a new link came, which is the one downloaded.
      await vi.waitFor(() => expect(downloads).toHaveLength(1));
      expect(link.mock.calls.length).toBe(asked + 1);
      expect(downloads[0]).toBe(`/files/ws/c1/f_pdf/file?exp=${n} as return-label.pdf`);
    } finally {
      window.removeEventListener("click", record);
    }
  });

  it("without links (the hub not reached) the files say they are unavailable", async () => {
    conversation(fakeFiles({ link: vi.fn(async () => null) }));
    expect(await screen.findByText("screenshot.png (unavailable)")).toBeInTheDocument();
    expect(screen.getByText(/return-label\.pdf \(unavailable\)/)).toBeInTheDocument();
  });

  it("shows a reply or note being sent with its files", async () => {
    const v = renderView(stateWith([frame(history("c1", [], { control: operatorControl(alice) }))]), { files: fakeFiles() });
    v.push(
      { type: "message_queued", conversationId: "c1", clientId: "m-1", text: "", at: 10, attachments: [PDF] },
      { type: "note_queued", conversationId: "c1", clientId: "n-1", text: "The receipt", at: 11, attachments: [NOTE_PIC] },
    );
    const log = screen.getByRole("log", { name: "Conversation history" });
    const sending = await within(log).findByRole("link", { name: "return-label.pdf (40 KB)" });
    expect(sending.closest(".msg")).toHaveTextContent("Sending…");
    expect(await within(log.querySelector(".note") as HTMLElement).findByRole("img", { name: "receipt.jpg" })).toBeInTheDocument();
  });
});

describe("attaching in the conversation", () => {
  it("the composer shows the box's files from the state, and files dropped on the conversation are attached", async () => {
    const v = renderView(stateWith([frame(history("c1", [], { control: operatorControl(alice) }))]), { files: fakeFiles() });
    v.push(
      { type: "composer_file_added", conversationId: "c1", file: { key: "k1", name: "shot.png", size: 10, status: "uploading" } },
      { type: "composer_file_added", conversationId: "c1", file: { key: "k2", name: "logo.svg", size: 10, status: "failed", error: "Can't attach logo.svg: only images (PNG, JPEG, WebP or GIF) and PDFs can be sent." } },
    );
    const chips = screen.getByRole("list", { name: "Attached files" });
    expect(within(chips).getAllByRole("listitem").map((c) => c.textContent)).toEqual([
      "shot.png: uploading…×",
      "Can't attach logo.svg: only images (PNG, JPEG, WebP or GIF) and PDFs can be sent.×",
    ]);
    expect(screen.getByRole("alert")).toHaveTextContent("Can't attach logo.svg");
    await userEvent.click(screen.getByRole("button", { name: "Remove logo.svg" }));
    expect(v.removeFile).toHaveBeenCalledWith("k2");

    const file = new File(["x"], "dropped.png", { type: "image/png" });
    const section = screen.getByRole("region", { name: /^Conversation with/ });
    const dataTransfer = { types: ["Files"], files: [file] };
    fireEvent.dragOver(section, { dataTransfer });
    expect(section).toHaveClass("conversation--drop");
    const dropped = fireEvent.drop(section, { dataTransfer });
    expect(dropped).toBe(false); // default prevented: the browser does not open the file
    expect(section).not.toHaveClass("conversation--drop");
    expect(v.attach).toHaveBeenCalledWith([file]);
  });
});

describe("Composer with files", () => {
  const ready = (key: string, a: Attachment): PendingFile => ({ key, name: a.name, size: a.size, status: "ready", attachment: a });

  function setup(list: PendingFile[], over: Partial<ComposerProps> = {}) {
    const actions = {
      send: vi.fn<ComposerActions["send"]>(),
      note: vi.fn<ComposerActions["note"]>(),
      setTyping: vi.fn<ComposerActions["setTyping"]>(),
      release: vi.fn<ComposerActions["release"]>(),
    };
    const files = { list, attach: vi.fn<(f: File[]) => void>(), remove: vi.fn<(k: string) => void>() };
    const props: ComposerProps = {
      canReply: true,
      holding: true,
      pending: null,
      connected: true,
      replies: { status: "loaded", replies: [] },
      onNeedReplies: vi.fn(),
      actions,
      files,
      ...over,
    };
    const view = render(<Composer {...props} />);
    return { actions, files, rerender: (l: PendingFile[]) => view.rerender(<Composer {...props} files={{ ...files, list: l }} />) };
  }

  it("📎 opens the file chooser, whose files are attached", async () => {
    const { files } = setup([]);
    const picker = screen.getByLabelText("Choose files to attach") as HTMLInputElement;
    expect(picker).toHaveAttribute("accept", "image/png,image/jpeg,image/webp,image/gif,application/pdf");
    expect(picker.multiple).toBe(true);
    const chooser = vi.fn();
    picker.addEventListener("click", chooser);
    await userEvent.click(screen.getByRole("button", { name: "Attach files" }));
    expect(chooser).toHaveBeenCalled();
    const a = new File(["a"], "a.png", { type: "image/png" });
    const b = new File(["%PDF"], "b.pdf", { type: "application/pdf" });
    await userEvent.upload(picker, [a, b]);
    expect(files.attach).toHaveBeenCalledWith([a, b]);
  });

  it("sends the uploaded files with the reply, even without text; waits while one uploads", async () => {
    const { actions, rerender } = setup([{ key: "k1", name: "label.pdf", size: 10, status: "uploading" }]);
    const send = screen.getByRole("button", { name: "Send" });
    expect(send).toBeDisabled();
    expect(send).toHaveAttribute("title", "Wait until the files have uploaded");
    await userEvent.type(screen.getByRole("textbox", { name: "Message to the visitor" }), "Label{Enter}");
    expect(actions.send).not.toHaveBeenCalled();

    rerender([ready("k1", PDF)]);
    expect(screen.getByRole("list", { name: "Attached files" })).toHaveTextContent("return-label.pdf (40 KB)");
    await userEvent.clear(screen.getByRole("textbox", { name: "Message to the visitor" }));
    expect(send).toBeEnabled();
    await userEvent.click(send);
    expect(actions.send).toHaveBeenCalledWith("", [PDF]);
  });

  it("adds a note with its files in Note mode", async () => {
    const { actions } = setup([ready("k1", NOTE_PIC)], { canReply: false, holding: false });
    await userEvent.type(screen.getByRole("textbox", { name: "Internal note" }), "Receipt from the visitor{Enter}");
    expect(actions.note).toHaveBeenCalledWith("Receipt from the visitor", [NOTE_PIC]);
  });

  it("a pasted screenshot is attached; text pasted with it is pasted as usual", async () => {
    const { files } = setup([]);
    const box = screen.getByRole("textbox", { name: "Message to the visitor" });
    const shot = new File(["png"], "image.png", { type: "image/png" });
    const alone = fireEvent.paste(box, { clipboardData: { files: [shot], getData: () => "" } });
    expect(alone).toBe(false); // nothing else to paste
    expect(files.attach).toHaveBeenCalledWith([shot]);
    const withText = fireEvent.paste(box, { clipboardData: { files: [shot], getData: () => "caption" } });
    expect(withText).toBe(true);
    expect(files.attach).toHaveBeenCalledTimes(2);
    fireEvent.paste(box, { clipboardData: { files: [], getData: () => "just text" } });
    expect(files.attach).toHaveBeenCalledTimes(2);
  });
});
