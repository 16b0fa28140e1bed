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
  };
}

type BarOptions = { plan?: Plan; role?: Role; connected?: boolean; pending?: "takeover" | "release" | null; readOnly?: boolean };

function renderBar(control: ControlView, opts: BarOptions = {}) {
  const a = actions();
  render(
    <ControlBar
      control={control}
      pending={opts.pending ?? null}
      loaded
      session={session(opts.plan, opts.role)}
      connected={opts.connected ?? true}
      actions={a}
      readOnly={opts.readOnly ?? false}
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

  it("keeps Take Control disabled while the visitor of a Recent conversation is away, and says so", () => {
    renderBar({ kind: "ai" }, { readOnly: true });
    expect(screen.getByRole("button", { name: "Take Control" })).toBeDisabled();
    expect(screen.getByText(/read-only until they come back/)).toBeInTheDocument();
  });

  it("leaves the holder's writing to the composer", () => {
    const { container } = render(
      <ControlBar control={{ kind: "self" }} pending={null} loaded session={session()} connected actions={actions()} />,
    );
    expect(container).toBeEmptyDOMElement();
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
  });

  it("shows nothing without a warning", () => {
    render(<ControlBar control={{ kind: "self" }} pending={null} loaded session={session()} connected actions={actions()} />);
    expect(screen.queryByRole("alert")).toBeNull();
  });
});
