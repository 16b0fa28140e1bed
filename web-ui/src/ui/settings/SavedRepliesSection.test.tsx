import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { CannedReply, Role } from "../../protocol/frames";
import { CannedRepliesStore, type CannedRepliesApi } from "../../api/cannedReplies";
import { ApiError } from "../../api/httpApi";
import { SavedRepliesSection } from "./SavedRepliesSection";

const refund: CannedReply = {
  id: "cr_1",
  title: "Refund timing",
  shortcut: "refund",
  text: "Refunds reach your card within 5 business days.",
  updated_at: 1,
  updated_by: "olivia",
};

function setup(role: Role, over: Partial<CannedRepliesApi> = {}) {
  let kept: CannedReply[] = [refund];
  const api = {
    list: vi.fn(async () => kept),
    create: vi.fn(async (i: { title: string; shortcut: string; text: string }) => {
      const r = { ...i, id: "cr_2", updated_at: 2, updated_by: "olivia" };
      kept = [...kept, r];
      return r;
    }),
    update: vi.fn(async (id: string, i: { title: string; shortcut: string; text: string }) => {
      const r = { ...i, id, updated_at: 3, updated_by: "olivia" };
      kept = kept.map((k) => (k.id === id ? r : k));
      return r;
    }),
    remove: vi.fn(async (id: string) => {
      kept = kept.filter((k) => k.id !== id);
    }),
    ...over,
  };
  const store = new CannedRepliesStore(api);
  render(<SavedRepliesSection store={store} role={role} defaultExpanded />);
  return { api, store };
}

const list = () => screen.getByRole("list", { name: "Saved replies" });

describe("Saved replies settings", () => {
  it("lets an owner add a reply; it shows in the list", async () => {
    const { api } = setup("owner");
    expect(await within(await screen.findByRole("list", { name: "Saved replies" })).findByText("Refund timing")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "New reply" }));
    const form = screen.getByRole("form", { name: "Add reply" });
    await userEvent.type(within(form).getByLabelText("Title"), "Greeting");
    await userEvent.type(within(form).getByLabelText("Shortcut"), "Hello");
    await userEvent.type(within(form).getByLabelText("Text"), "  Hi, how can I help?  ");
    expect(within(form).getByLabelText("Shortcut")).toHaveValue("hello");
    await userEvent.click(within(form).getByRole("button", { name: "Add reply" }));
    expect(api.create).toHaveBeenCalledWith({ title: "Greeting", shortcut: "hello", text: "Hi, how can I help?" });
    await waitFor(() => expect(screen.queryByRole("form")).toBeNull());
    expect(within(list()).getByText("/hello")).toBeInTheDocument();
  });

  it("shows the hub's detail verbatim when it refuses (409), keeping the form", async () => {
    const create = vi.fn(async () => {
      throw new ApiError("Another saved reply already uses /refund.", 409, "shortcut_taken");
    });
    setup("editor", { create });
    await userEvent.click(await screen.findByRole("button", { name: "New reply" }));
    const form = screen.getByRole("form", { name: "Add reply" });
    await userEvent.type(within(form).getByLabelText("Title"), "Refund again");
    await userEvent.type(within(form).getByLabelText("Shortcut"), "refund");
    await userEvent.type(within(form).getByLabelText("Text"), "Five days.");
    await userEvent.click(within(form).getByRole("button", { name: "Add reply" }));
    expect(await within(form).findByRole("alert")).toHaveTextContent("Another saved reply already uses /refund.");
    expect(within(form).getByRole("button", { name: "Add reply" })).toBeEnabled();
  });

  it("names the fields it cannot send, without asking the hub", async () => {
    const { api } = setup("owner");
    await userEvent.click(await screen.findByRole("button", { name: "New reply" }));
    const form = screen.getByRole("form", { name: "Add reply" });
    await userEvent.type(within(form).getByLabelText("Shortcut"), "no spaces");
    await userEvent.click(within(form).getByRole("button", { name: "Add reply" }));
    expect(within(form).getByText("Give the reply a title.")).toBeInTheDocument();
    expect(within(form).getByText("Only lowercase letters, digits, - and _.")).toBeInTheDocument();
    expect(within(form).getByLabelText("Shortcut")).toHaveAttribute("aria-invalid", "true");
    expect(api.create).not.toHaveBeenCalled();
  });

  it("edits a reply in place", async () => {
    const { api } = setup("owner");
    await userEvent.click(await screen.findByRole("button", { name: "Edit Refund timing" }));
    const form = screen.getByRole("form", { name: "Save changes" });
    const text = within(form).getByLabelText("Text");
    expect(text).toHaveValue(refund.text);
    await userEvent.clear(text);
    await userEvent.type(text, "Refunds take up to 5 business days.");
    await userEvent.click(within(form).getByRole("button", { name: "Save changes" }));
    expect(api.update).toHaveBeenCalledWith("cr_1", { title: "Refund timing", shortcut: "refund", text: "Refunds take up to 5 business days." });
    expect(await within(list()).findByText("Refunds take up to 5 business days.")).toBeInTheDocument();
  });

  it("deletes after a confirmation", async () => {
    const { api } = setup("editor");
    await userEvent.click(await screen.findByRole("button", { name: "Delete Refund timing" }));
    expect(api.remove).not.toHaveBeenCalled();
    await userEvent.click(screen.getByRole("button", { name: "Yes, delete" }));
    expect(api.remove).toHaveBeenCalledWith("cr_1");
    expect(await screen.findByText("No saved replies yet.")).toBeInTheDocument();
  });

  it("shows operators the list read-only and says why", async () => {
    setup("operator");
    expect(await within(await screen.findByRole("list", { name: "Saved replies" })).findByText("Refund timing")).toBeInTheDocument();
    expect(screen.getByText(/Only owners and editors can add, change or delete saved replies/)).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "New reply" })).toBeNull();
    expect(screen.queryByRole("button", { name: /^Edit / })).toBeNull();
    expect(screen.queryByRole("button", { name: /^Delete / })).toBeNull();
  });

  it("says when the list could not be loaded, and tries again", async () => {
    const listFn = vi.fn().mockRejectedValueOnce(new Error("Loading saved replies failed: the hub answered 503.")).mockResolvedValueOnce([refund]);
    setup("owner", { list: listFn });
    expect(await screen.findByRole("alert")).toHaveTextContent("the hub answered 503");
    await userEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("Refund timing")).toBeInTheDocument();
  });
});
