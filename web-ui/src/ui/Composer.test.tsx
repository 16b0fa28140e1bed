import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { CannedReply } from "../protocol/frames";
import { Composer, type ComposerActions, type ComposerProps } from "./Composer";
import type { RepliesSnapshot } from "../api/cannedReplies";

const reply = (shortcut: string, title: string, text: string): CannedReply => ({
  id: `cr_${shortcut}`,
  shortcut,
  title,
  text,
  updated_at: 1,
  updated_by: "nora",
});

const REPLIES: RepliesSnapshot = {
  status: "loaded",
  replies: [
    reply("refund", "Refund timing", "Refunds reach your card within 5 business days."),
    reply("shipping", "Shipping times", "We ship within 1 business day."),
    reply("hello", "Greeting", "Hi, how can I help?"),
  ],
};

function actions() {
  return {
    send: vi.fn<ComposerActions["send"]>(),
    note: vi.fn<ComposerActions["note"]>(),
    setTyping: vi.fn<ComposerActions["setTyping"]>(),
    release: vi.fn<ComposerActions["release"]>(),
  };
}

function props(over: Partial<ComposerProps> = {}): ComposerProps {
  return {
    canReply: true,
    holding: true,
    pending: null,
    connected: true,
    replies: REPLIES,
    onNeedReplies: vi.fn(),
    actions: actions(),
    ...over,
  };
}

function renderComposer(over: Partial<ComposerProps> = {}) {
  const p = props(over);
  const view = render(<Composer {...p} />);
  return { ...p, a: p.actions as ReturnType<typeof actions>, rerender: (o: Partial<ComposerProps>) => view.rerender(<Composer {...p} {...o} />) };
}

describe("Composer, replying", () => {
  it("sends on Enter, keeps Shift+Enter as a newline, and ends with End", async () => {
    const { a } = renderComposer();
    const box = screen.getByRole("textbox", { name: "Message to the visitor" });
    expect(box).toHaveFocus();
    await userEvent.type(box, "Hi there{Shift>}{Enter}{/Shift}second line");
    expect(a.send).not.toHaveBeenCalled();
    expect(box).toHaveValue("Hi there\nsecond line");
    expect(a.setTyping).toHaveBeenCalledWith(true);
    await userEvent.keyboard("{Enter}");
    expect(a.send).toHaveBeenCalledWith("Hi there\nsecond line");
    expect(a.note).not.toHaveBeenCalled();
    expect(box).toHaveValue("");
    expect(a.setTyping).toHaveBeenLastCalledWith(false);

    await userEvent.click(screen.getByRole("button", { name: "End" }));
    expect(a.release).toHaveBeenCalledWith(false);
  });

  it("does not send blank messages", async () => {
    const { a } = renderComposer();
    await userEvent.type(screen.getByRole("textbox"), "   {Enter}");
    expect(a.send).not.toHaveBeenCalled();
    expect(screen.getByRole("button", { name: "Send" })).toBeDisabled();
  });
});

describe("Composer, notes", () => {
  it("offers only Note when the operator may not reply, and says why, without taking focus or signalling typing", async () => {
    const { a } = renderComposer({ canReply: false, holding: false, replyHint: "Bob Builder is handling this conversation." });
    expect(screen.getByRole("button", { name: "Reply" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Note" })).toHaveAttribute("aria-pressed", "true");
    expect(screen.queryByRole("button", { name: "End" })).toBeNull();
    expect(screen.getByText(/never the visitor\. Bob Builder is handling this conversation\./)).toBeInTheDocument();
    const box = screen.getByRole("textbox", { name: "Internal note" });
    expect(box).not.toHaveFocus();

    await userEvent.type(box, "VIP customer{Enter}");
    expect(a.note).toHaveBeenCalledWith("VIP customer");
    expect(a.send).not.toHaveBeenCalled();
    // The visitor would see "typing…" for a note they can never read.
    expect(a.setTyping).not.toHaveBeenCalled();
    expect(box).toHaveValue("");
  });

  it("lets the holder switch to Note and back; a note stops the typing signal", async () => {
    const { a } = renderComposer();
    await userEvent.type(screen.getByRole("textbox"), "Refund");
    expect(a.setTyping).toHaveBeenLastCalledWith(true);
    await userEvent.click(screen.getByRole("button", { name: "Note" }));
    expect(a.setTyping).toHaveBeenLastCalledWith(false);
    const box = screen.getByRole("textbox", { name: "Internal note" });
    expect(box).toHaveValue("Refund"); // what was written is kept
    await userEvent.type(box, " approved by Nora");
    expect(a.setTyping).toHaveBeenCalledTimes(2);
    await userEvent.click(screen.getByRole("button", { name: "Add note" }));
    expect(a.note).toHaveBeenCalledWith("Refund approved by Nora");

    await userEvent.click(screen.getByRole("button", { name: "Reply" }));
    expect(screen.getByRole("textbox", { name: "Message to the visitor" })).toHaveFocus();
  });

  it("switches to Reply and focuses the box when the operator gets control", () => {
    const { rerender } = renderComposer({ canReply: false, holding: false });
    expect(screen.getByRole("textbox", { name: "Internal note" })).not.toHaveFocus();
    rerender({ canReply: true, holding: true });
    expect(screen.getByRole("textbox", { name: "Message to the visitor" })).toHaveFocus();
    rerender({ canReply: false, holding: false });
    expect(screen.getByRole("textbox", { name: "Internal note" })).toBeInTheDocument();
  });
});

describe("Composer, saved replies", () => {
  const options = () => within(screen.getByRole("listbox", { name: "Saved replies" })).getAllByRole("option");

  it("opens on / and filters by what follows; arrows move; Enter inserts the text for editing and never sends", async () => {
    const { a } = renderComposer();
    const box = screen.getByRole("textbox", { name: "Message to the visitor" });
    await userEvent.type(box, "/");
    expect(options().map((o) => o.textContent)).toEqual([
      expect.stringMatching(/^\/helloGreeting/),
      expect.stringMatching(/^\/refundRefund timing/),
      expect.stringMatching(/^\/shippingShipping times/),
    ]);
    await userEvent.type(box, "re");
    // A title containing the query matches too ("Greeting"), after shortcuts starting with it.
    expect(options().map((o) => o.querySelector("code")?.textContent)).toEqual(["/refund", "/hello"]);
    await userEvent.type(box, "f");
    expect(options()).toHaveLength(1);
    expect(options()[0]).toHaveAttribute("aria-selected", "true");
    expect(box).toHaveAttribute("aria-activedescendant", options()[0]!.id);

    await userEvent.keyboard("{Enter}");
    expect(a.send).not.toHaveBeenCalled();
    expect(box).toHaveValue("Refunds reach your card within 5 business days.");
    expect(screen.queryByRole("listbox")).toBeNull();
    expect((box as HTMLTextAreaElement).selectionStart).toBe(47);

    await userEvent.type(box, " Sorry for the wait!{Enter}");
    expect(a.send).toHaveBeenCalledWith("Refunds reach your card within 5 business days. Sorry for the wait!");
  });

  it("replaces only the /query after other words, choosing with the arrows", async () => {
    renderComposer();
    const box = screen.getByRole("textbox");
    await userEvent.type(box, "Hello! /");
    await userEvent.keyboard("{ArrowDown}{ArrowDown}");
    expect(options()[2]).toHaveAttribute("aria-selected", "true");
    await userEvent.keyboard("{ArrowDown}"); // wraps round
    expect(options()[0]).toHaveAttribute("aria-selected", "true");
    await userEvent.keyboard("{ArrowUp}{Enter}");
    expect(box).toHaveValue("Hello! We ship within 1 business day.");
  });

  it("does not open for a slash inside a word", async () => {
    renderComposer();
    await userEvent.type(screen.getByRole("textbox"), "and/or");
    expect(screen.queryByRole("listbox")).toBeNull();
  });

  it("closes on Escape until another / is typed; Enter then sends what was written", async () => {
    const { a } = renderComposer();
    const box = screen.getByRole("textbox");
    await userEvent.type(box, "/ship");
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("listbox")).toBeNull();
    await userEvent.type(box, "x");
    expect(screen.queryByRole("listbox")).toBeNull();
    await userEvent.type(box, " /");
    expect(screen.getByRole("listbox")).toBeInTheDocument();
    await userEvent.keyboard("{Escape}{Enter}");
    expect(a.send).toHaveBeenCalledWith("/shipx /");
  });

  it("says when nothing matches, and Enter still does not send", async () => {
    const { a } = renderComposer();
    await userEvent.type(screen.getByRole("textbox"), "/zzz{Enter}");
    expect(screen.getByRole("status")).toHaveTextContent("No saved reply matches “/zzz”");
    expect(a.send).not.toHaveBeenCalled();
  });

  it("inserts on click, in Note mode too", async () => {
    const { a } = renderComposer({ canReply: false, holding: false });
    const box = screen.getByRole("textbox", { name: "Internal note" });
    await userEvent.type(box, "/gree");
    await userEvent.click(screen.getByRole("option", { name: /Greeting/ }));
    expect(box).toHaveValue("Hi, how can I help?");
    expect(a.note).not.toHaveBeenCalled();
  });

  it("asks for the replies when they are not loaded, and says they are on their way", async () => {
    const onNeedReplies = vi.fn();
    renderComposer({ replies: { status: "idle" }, onNeedReplies });
    await userEvent.type(screen.getByRole("textbox"), "/");
    expect(onNeedReplies).toHaveBeenCalled();
    expect(screen.getByRole("status")).toHaveTextContent("Loading saved replies…");
  });
});
