import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { describeError } from "../client/errors";
import type { ControlView } from "../client/selectors";
import type { ColleaguesState, Session, TransferRequest } from "../client/state";
import type { ErrorCode } from "../protocol/codes";
import type { Colleague, Plan, Role } from "../protocol/frames";
import { ControlBar, type ControlActions, type ControlBarProps } from "./ControlBar";

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
    loadColleagues: vi.fn<ControlActions["loadColleagues"]>(),
    transfer: vi.fn<ControlActions["transfer"]>(),
    dismissTransfer: vi.fn<ControlActions["dismissTransfer"]>(),
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

describe("Transfer", () => {
  const team: Colleague[] = [
    { id: "op-alice", name: "Alice", role: "operator" },
    { id: "op-bob", name: "Bob Builder", role: "operator" },
    { id: "nora", name: "Nora Novak", role: "editor" },
    { id: "op-olivia", name: "Olivia Owner", role: "owner" },
  ];
  const loading: ColleaguesState = { operators: null, pending: true };
  const loaded: ColleaguesState = { operators: team, pending: false };

  type TransferOptions = {
    role?: Role;
    epoch?: number;
    colleagues?: ColleaguesState;
    request?: TransferRequest | null;
    pending?: ControlBarProps["pending"];
  };

  /** The bar with what the Transfer dialog needs; `update` re-renders it as new state arrives. */
  function renderTransfer(control: ControlView, opts: TransferOptions = {}) {
    const a = actions();
    const props = (o: TransferOptions): ControlBarProps => ({
      control,
      pending: o.pending ?? null,
      loaded: true,
      session: session("pro", o.role ?? "operator"),
      connected: true,
      actions: a,
      transfer: {
        visitorLabel: "Visitor 7F3A",
        epoch: o.epoch ?? 3,
        colleagues: o.colleagues ?? loaded,
        request: o.request ?? null,
      },
    });
    let current = opts;
    const { rerender } = render(<ControlBar {...props(current)} />);
    const update = (o: TransferOptions) => {
      current = { ...current, ...o };
      rerender(<ControlBar {...props(current)} />);
    };
    return { a, update };
  }

  const bobHolds: ControlView = { kind: "other", name: "Bob Builder", id: "op-bob" };
  const transferButton = () => screen.getByRole("button", { name: "Transfer" });

  it("is offered to the holder", () => {
    renderTransfer({ kind: "self" });
    expect(transferButton()).toBeEnabled();
    // Writing stays the composer's.
    expect(screen.queryByRole("textbox")).toBeNull();
  });

  it.each(["owner", "editor"] as const)("is offered to an %s for a conversation someone else holds", (role) => {
    renderTransfer(bobHolds, { role });
    expect(transferButton()).toBeEnabled();
    expect(screen.getByRole("button", { name: "Force release" })).toBeInTheDocument();
  });

  it("is not offered to a plain operator who does not hold the conversation, nor while the AI holds it", () => {
    renderTransfer(bobHolds, { role: "operator" });
    expect(screen.queryByRole("button", { name: "Transfer" })).toBeNull();
    render(<ControlBar control={{ kind: "ai" }} pending={null} loaded session={session("pro", "owner")} connected actions={actions()} />);
    expect(screen.queryByRole("button", { name: "Transfer" })).toBeNull();
  });

  it("waits while a takeover, release or transfer is on its way", () => {
    renderTransfer({ kind: "self" }, { pending: "release" });
    expect(transferButton()).toBeDisabled();
  });

  it("asks who is online, lists them without the holder and yourself, and sends the epoch seen with the note", async () => {
    const { a, update } = renderTransfer(bobHolds, { role: "owner", colleagues: loading, epoch: 3 });
    await userEvent.click(transferButton());
    expect(a.loadColleagues).toHaveBeenCalledTimes(1);
    const dialog = screen.getByRole("dialog", { name: "Transfer Visitor 7F3A" });
    expect(transferButton()).toHaveAttribute("aria-expanded", "true");
    expect(dialog).toHaveFocus();
    expect(within(dialog).getByRole("status")).toHaveTextContent("Checking who is online…");

    update({ colleagues: loaded });
    const choices = within(dialog).getAllByRole("radio");
    expect(choices.map((c) => c.closest("label")?.textContent)).toEqual(["Nora NovakEditor", "Olivia OwnerOwner"]);
    // The list came while focus was on the dialog: it moves to the first choice.
    expect(choices[0]).toHaveFocus();
    const confirm = within(dialog).getByRole("button", { name: "Transfer to…" });
    expect(confirm).toBeDisabled();

    await userEvent.click(within(dialog).getByRole("radio", { name: /Nora Novak/ }));
    await userEvent.type(within(dialog).getByRole("textbox", { name: "Note for them (optional)" }), "  Refund approved.  ");
    // Control moved on meanwhile (the bar shows it): the transfer still names the epoch the
    // operator chose under, so the hub can refuse it.
    update({ epoch: 4 });
    await userEvent.click(within(dialog).getByRole("button", { name: "Transfer to Nora Novak" }));
    expect(a.transfer).toHaveBeenCalledWith("nora", 3, "Refund approved.");
  });

  it("sends no note when the box is left empty or blank", async () => {
    const { a } = renderTransfer({ kind: "self" }, { epoch: 7 });
    await userEvent.click(transferButton());
    const dialog = screen.getByRole("dialog");
    // The holder is yourself: everyone else is offered.
    expect(within(dialog).getAllByRole("radio")).toHaveLength(3);
    await userEvent.click(within(dialog).getByRole("radio", { name: /Bob Builder/ }));
    await userEvent.type(within(dialog).getByRole("textbox"), "   ");
    await userEvent.click(within(dialog).getByRole("button", { name: "Transfer to Bob Builder" }));
    expect(a.transfer).toHaveBeenCalledWith("op-bob", 7, undefined);
  });

  it("refuses a note over 4,000 characters before sending", async () => {
    const { a } = renderTransfer({ kind: "self" });
    await userEvent.click(transferButton());
    const dialog = screen.getByRole("dialog");
    await userEvent.click(within(dialog).getByRole("radio", { name: /Nora/ }));
    const box = within(dialog).getByRole("textbox");
    await userEvent.click(box);
    await userEvent.paste("x".repeat(4_001));
    expect(box).toHaveAttribute("aria-invalid", "true");
    expect(within(dialog).getByText("4001 / 4000")).toHaveClass("composer__count--over");
    expect(within(dialog).getByRole("button", { name: "Transfer to Nora Novak" })).toBeDisabled();
    expect(a.transfer).not.toHaveBeenCalled();
  });

  it("says when nobody else is online", async () => {
    renderTransfer({ kind: "self" }, { colleagues: { operators: [team[0]!], pending: false } });
    await userEvent.click(transferButton());
    expect(screen.getByRole("status")).toHaveTextContent("No other teammate is online right now.");
  });

  it("closes with Escape or Cancel, giving focus back to Transfer", async () => {
    const { a } = renderTransfer({ kind: "self" });
    await userEvent.click(transferButton());
    await userEvent.type(within(screen.getByRole("dialog")).getByRole("textbox"), "half a note");
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(transferButton()).toHaveFocus();
    expect(transferButton()).toHaveAttribute("aria-expanded", "false");
    expect(a.dismissTransfer).toHaveBeenCalledTimes(1);

    await userEvent.click(transferButton());
    await userEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(transferButton()).toHaveFocus();
  });

  it("closes once the hub has done it", async () => {
    const { update } = renderTransfer(bobHolds, { role: "editor" });
    await userEvent.click(transferButton());
    await userEvent.click(within(screen.getByRole("dialog")).getByRole("radio", { name: /Nora/ }));
    update({ pending: "transfer", request: { status: "sending", to: "nora", epoch: 3 } });
    const busy = within(screen.getByRole("dialog")).getByRole("button", { name: "Transferring…" });
    expect(busy).toBeDisabled();
    expect(busy).toHaveAttribute("aria-busy", "true");
    update({ pending: null, request: null });
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it.each<ErrorCode>(["transfer_to_self", "operator_offline", "control_changed"])(
    "keeps the dialog open on %s, says why in words, and tries again under the epoch shown now",
    async (code) => {
      const { a, update } = renderTransfer({ kind: "self" }, { epoch: 3 });
      await userEvent.click(transferButton());
      const dialog = screen.getByRole("dialog");
      await userEvent.click(within(dialog).getByRole("radio", { name: /Nora/ }));
      await userEvent.click(within(dialog).getByRole("button", { name: "Transfer to Nora Novak" }));
      update({ pending: "transfer", request: { status: "sending", to: "nora", epoch: 3 } });
      const text = describeError({ code, message: "", retryable: false });
      update({ pending: null, epoch: 5, request: { status: "refused", to: "nora", error: { code, text } } });
      expect(within(dialog).getByRole("alert")).toHaveTextContent(`Not transferred: ${text}`);
      await userEvent.click(within(dialog).getByRole("button", { name: "Transfer to Nora Novak" }));
      expect(a.transfer).toHaveBeenLastCalledWith("nora", 5, undefined);
    },
  );
});
