import { act, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { held, member } from "../test/fixtures";
import { TeamPanel, type TeamPanelProps } from "./TeamPanel";

const NOW = new Date("2026-11-25T14:00:00Z").getTime();
const MIN = 60_000;

afterEach(() => {
  vi.useRealTimers();
});

function renderTeam(over: Partial<TeamPanelProps> = {}) {
  const props: TeamPanelProps = {
    members: [
      member("op-nora", "Nora Novak", { online: false }),
      member("op-martin", "Martin Keller", { holding: [held("c7", "Visitor 7F3A", NOW - 12 * MIN)] }),
      member("op-olivia", "Olivia Owner", { role: "owner" }),
    ],
    selfId: "op-olivia",
    releasing: [],
    connected: true,
    onOpen: vi.fn(),
    onForceRelease: vi.fn(),
    ...over,
  };
  render(<TeamPanel {...props} />);
  return props;
}

describe("TeamPanel", () => {
  it("lists online operators first, each with role and holdings", () => {
    vi.useFakeTimers({ now: NOW, toFake: ["Date", "setInterval", "clearInterval"] });
    renderTeam();
    const rows = within(screen.getByRole("list", { name: "Team" })).getAllByRole("listitem").filter((li) => li.classList.contains("member"));
    expect(rows.map((r) => r.dataset.operatorId)).toEqual(["op-martin", "op-olivia", "op-nora"]);
    const [martin, olivia, nora] = rows as [HTMLElement, HTMLElement, HTMLElement];
    expect(martin).toHaveTextContent("Martin Keller, onlineOperator");
    expect(martin.querySelector(".presence--online")).not.toBeNull();
    expect(within(martin).getByRole("button", { name: "Open Visitor 7F3A, held for 12 min" })).toHaveTextContent("Visitor 7F3Afor 12 min");
    expect(olivia).toHaveTextContent("Olivia Owner (you), onlineOwner");
    expect(nora).toHaveTextContent("Nora Novak, offlineOperator");
    expect(nora.querySelector(".presence--offline")).not.toBeNull();
  });

  it("moves the held-for time on every minute", () => {
    vi.useFakeTimers({ now: NOW, toFake: ["Date", "setInterval", "clearInterval"] });
    renderTeam();
    expect(screen.getByText("for 12 min")).toBeInTheDocument();
    act(() => vi.advanceTimersByTime(MIN));
    expect(screen.getByText("for 13 min")).toBeInTheDocument();
    act(() => vi.advanceTimersByTime(50 * MIN));
    expect(screen.getByText("for 1 h 3 min")).toBeInTheDocument();
  });

  it("force-releases only after the inline confirmation", async () => {
    const props = renderTeam();
    await userEvent.click(screen.getByRole("button", { name: "Force release Visitor 7F3A" }));
    const confirm = screen.getByRole("group", { name: "Confirm force release of Visitor 7F3A" });
    expect(confirm).toHaveTextContent("Release Visitor 7F3A back to the AI?");
    expect(within(confirm).getByRole("button", { name: "Cancel" })).toHaveFocus();

    await userEvent.click(within(confirm).getByRole("button", { name: "Cancel" }));
    expect(props.onForceRelease).not.toHaveBeenCalled();
    expect(screen.getByRole("button", { name: "Force release Visitor 7F3A" })).toHaveFocus();

    await userEvent.click(screen.getByRole("button", { name: "Force release Visitor 7F3A" }));
    await userEvent.click(screen.getByRole("button", { name: "Yes" }));
    expect(props.onForceRelease).toHaveBeenCalledExactlyOnceWith("c7");
  });

  it("opens a held conversation on click, and offers no force release of your own", async () => {
    const props = renderTeam({
      members: [member("op-olivia", "Olivia Owner", { role: "owner", holding: [held("c9", "Visitor 11AA", NOW)] })],
    });
    await userEvent.click(screen.getByRole("button", { name: /^Open Visitor 11AA/ }));
    expect(props.onOpen).toHaveBeenCalledWith("c9");
    expect(screen.queryByRole("button", { name: /Force release/ })).toBeNull();
  });

  it("shows a pending release and disables releasing while offline", () => {
    renderTeam({ releasing: ["c7"] });
    expect(screen.getByRole("button", { name: "Force release Visitor 7F3A" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Force release Visitor 7F3A" })).toHaveTextContent("Releasing…");
  });

  it("says when the team has not arrived yet", () => {
    renderTeam({ members: null });
    expect(screen.getByText("Loading the team…")).toBeInTheDocument();
  });
});
