import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { ControlView } from "../client/selectors";
import type { Session } from "../client/state";
import type { Plan, Role } from "../protocol/frames";
import { ControlBar, type ControlActions } from "./ControlBar";

function session(plan: Plan = "pro", role: Role = "operator"): Session {
  return {
    operator: { id: "op-alice", name: "Alice", role, workspace_id: "ws" },
    workspace: { id: "ws", name: "Acme", plan },
    heartbeatMs: 30_000,
  };
}

function actions() {
  return {
    takeover: vi.fn<ControlActions["takeover"]>(),
    release: vi.fn<ControlActions["release"]>(),
    send: vi.fn<ControlActions["send"]>(),
    setTyping: vi.fn<ControlActions["setTyping"]>(),
  };
}

function renderBar(control: ControlView, opts: { plan?: Plan; role?: Role; connected?: boolean; pending?: "takeover" | "release" | null } = {}) {
  const a = actions();
  render(
    <ControlBar
      control={control}
      pending={opts.pending ?? null}
      loaded
      session={session(opts.plan, opts.role)}
      connected={opts.connected ?? true}
      actions={a}
    />,
  );
  return a;
}

describe("ControlBar", () => {
  it("offers Take Control while the AI holds the conversation", async () => {
    const a = renderBar({ kind: "ai" });
    await userEvent.click(screen.getByRole("button", { name: "Take Control" }));
    expect(a.takeover).toHaveBeenCalledTimes(1);
  });

  it("disables Take Control while disconnected or while a takeover is pending", () => {
    renderBar({ kind: "ai" }, { connected: false });
    expect(screen.getByRole("button", { name: "Take Control" })).toBeDisabled();
  });

  it.each(["basic", "standard"] as const)("locks Take Control on the %s plan and explains why", async (plan) => {
    const a = renderBar({ kind: "ai" }, { plan });
    const button = screen.getByRole("button", { name: "Take Control" });
    expect(button).toHaveAttribute("aria-disabled", "true");
    expect(button).toHaveAccessibleDescription(/Pro feature/);
    await userEvent.click(button);
    expect(a.takeover).not.toHaveBeenCalled();
  });

  it("shows who holds it, read-only, for a plain operator", () => {
    renderBar({ kind: "other", name: "Bob Builder" });
    expect(screen.getByText(/Controlled by/)).toHaveTextContent("Controlled by Bob Builder");
    expect(screen.queryByRole("button", { name: "Force release" })).toBeNull();
    expect(screen.queryByRole("textbox")).toBeNull();
  });

  it.each(["owner", "editor"] as const)("lets an %s force-release someone else's conversation", async (role) => {
    const a = renderBar({ kind: "other", name: "Bob Builder" }, { role });
    await userEvent.click(screen.getByRole("button", { name: "Force release" }));
    expect(a.release).toHaveBeenCalledWith(true);
  });

  it("sends on Enter, keeps Shift+Enter as a newline, and ends with End", async () => {
    const a = renderBar({ kind: "self" });
    const box = screen.getByRole("textbox", { name: "Message to the visitor" });
    expect(box).toHaveFocus();
    await userEvent.type(box, "Hi there{Shift>}{Enter}{/Shift}second line");
    expect(a.send).not.toHaveBeenCalled();
    expect(box).toHaveValue("Hi there\nsecond line");
    expect(a.setTyping).toHaveBeenCalledWith(true);
    await userEvent.keyboard("{Enter}");
    expect(a.send).toHaveBeenCalledWith("Hi there\nsecond line");
    expect(box).toHaveValue("");
    expect(a.setTyping).toHaveBeenLastCalledWith(false);

    await userEvent.click(screen.getByRole("button", { name: "End" }));
    expect(a.release).toHaveBeenCalledWith(false);
  });

  it("does not send blank messages", async () => {
    const a = renderBar({ kind: "self" });
    await userEvent.type(screen.getByRole("textbox"), "   {Enter}");
    expect(a.send).not.toHaveBeenCalled();
    expect(screen.getByRole("button", { name: "Send" })).toBeDisabled();
  });
});

describe("idle warning", () => {
  it("tells the holder when control goes back to the AI", () => {
    render(
      <ControlBar
        control={{ kind: "self" }}
        pending={null}
        loaded
        session={session()}
        connected
        actions={actions()}
        idleReleaseAt={Date.UTC(2026, 0, 1, 12, 0)}
      />,
    );
    expect(screen.getByRole("alert")).toHaveTextContent(/goes back to the AI assistant at .* unless you reply/);
    expect(screen.getByRole("textbox")).toBeEnabled();
  });

  it("shows nothing without a warning", () => {
    render(<ControlBar control={{ kind: "self" }} pending={null} loaded session={session()} connected actions={actions()} />);
    expect(screen.queryByRole("alert")).toBeNull();
  });
});
