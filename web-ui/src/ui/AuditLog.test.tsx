import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { AuditEntry } from "../protocol/frames";
import { auditEntry, martinActor, oliviaActor } from "../test/fixtures";
import { AuditLog } from "./AuditLog";
import { auditFilename, downloadAudit } from "../api/auditExport";
import { auditDetail, auditSentence, type AuditContext } from "../text/auditText";

const context: AuditContext = {
  labelOf: (id) => ({ c1: "Visitor 7F3A", c2: "Visitor 11AA" })[id],
  nameOf: (id) => ({ "op-martin": "Martin Keller", "op-olivia": "Olivia Owner" })[id],
};

const NOW = new Date(2026, 10, 25, 15, 0).getTime();
const at = (h: number, m: number) => new Date(2026, 10, 25, h, m).getTime();

describe("audit sentences", () => {
  const cases: [string, AuditEntry][] = [
    ["Martin Keller took over Visitor 7F3A", auditEntry(1)],
    ["Martin Keller handed Visitor 7F3A back to the AI", auditEntry(1, { action: "release", reason: "ended" })],
    [
      "Olivia Owner force-released Martin's conversation",
      auditEntry(1, { actor: oliviaActor, action: "release", reason: "force_released", holder_id: "op-martin" }),
    ],
    [
      "Olivia Owner force-released Visitor 7F3A",
      auditEntry(1, { actor: oliviaActor, action: "release", reason: "force_released", holder_id: "op-gone" }),
    ],
    ["Released automatically: holder disconnected", auditEntry(1, { actor: undefined, action: "release", reason: "disconnected", holder_id: "op-martin" })],
    ["Released automatically: holder idle", auditEntry(1, { actor: undefined, action: "release", reason: "idle", holder_id: "op-martin" })],
    ["Released automatically: conversation ended", auditEntry(1, { actor: undefined, action: "release", reason: "ended" })],
    ["Takeover refused: plan", auditEntry(1, { action: "plan_refused" })],
    ["Martin Keller changed their profile", auditEntry(1, { action: "profile_changed", conversation_id: undefined })],
    ["Martin Keller took over a conversation", auditEntry(1, { conversation_id: "c-unknown" })],
    ["Martin Keller transferred Visitor 7F3A to Olivia Owner", auditEntry(1, { action: "transfer", to: "op-olivia" })],
    ["Martin Keller transferred Visitor 7F3A to a teammate", auditEntry(1, { action: "transfer", to: "op-unknown" })],
  ];
  it.each(cases)("%s", (sentence, entry) => {
    expect(auditSentence(entry, context)).toBe(sentence);
  });

  it("says whose conversation an owner or editor transferred", () => {
    const entry = auditEntry(1, { actor: oliviaActor, action: "transfer", holder_id: "op-martin", to: "op-nora" });
    expect(auditSentence(entry, context)).toBe("Olivia Owner transferred Visitor 7F3A to a teammate");
    expect(auditDetail(entry, context)).toBe("from Martin Keller");
    expect(auditDetail(auditEntry(1, { action: "transfer", to: "op-olivia" }), context)).toBeNull();
  });
});

describe("AuditLog", () => {
  const entries: AuditEntry[] = [
    auditEntry(at(14, 1)),
    auditEntry(at(14, 5), { actor: oliviaActor, action: "release", reason: "force_released", holder_id: martinActor.id }),
    auditEntry(at(14, 9), { actor: undefined, action: "release", reason: "idle", holder_id: martinActor.id, conversation_id: "c2" }),
  ];

  it("lists entries newest first with time, actor (or Automatic) and a sentence", () => {
    render(<AuditLog entries={entries} loaded context={context} now={NOW} onDownload={async () => {}} />);
    const rows = within(screen.getByRole("list", { name: "Audit log, newest first" })).getAllByRole("listitem");
    expect(rows).toHaveLength(3);
    const [auto, forced, takeover] = rows as [HTMLElement, HTMLElement, HTMLElement];
    expect(auto).toHaveTextContent(/^\d{1,2}:09.*AutomaticReleased automatically: holder idleMartin Keller · Visitor 11AA$/);
    expect(forced).toHaveTextContent("Olivia OwnerOlivia Owner force-released Martin's conversationVisitor 7F3A");
    expect(takeover).toHaveTextContent("Martin KellerMartin Keller took over Visitor 7F3A");
    expect(takeover.querySelector("time")).toHaveAttribute("dateTime", new Date(at(14, 1)).toISOString());
  });

  it("downloads the export and shows why it failed", async () => {
    const onDownload = vi.fn().mockResolvedValueOnce(undefined).mockRejectedValueOnce(new Error("The audit export failed: GET /api/audit answered 500."));
    render(<AuditLog entries={[]} loaded context={context} now={NOW} onDownload={onDownload} />);
    expect(screen.getByText(/Nothing recorded yet/)).toBeInTheDocument();
    const button = screen.getByRole("button", { name: "Download JSON lines" });
    await userEvent.click(button);
    expect(onDownload).toHaveBeenCalledTimes(1);
    expect(screen.queryByRole("alert")).toBeNull();
    await userEvent.click(button);
    expect(await screen.findByRole("alert")).toHaveTextContent("GET /api/audit answered 500");
  });
});

describe("downloadAudit", () => {
  it("fetches /api/audit with the operator's token and saves JSON lines", async () => {
    const body = '{"at":1,"action":"takeover"}\n';
    const fetchFn = vi.fn(async () => new Response(body, { status: 200, headers: { "content-type": "application/x-ndjson" } }));
    const save = vi.fn();
    await downloadAudit({ token: async () => "jwt-1", fetchFn, save, now: () => Date.UTC(2026, 10, 25) });
    expect(fetchFn).toHaveBeenCalledWith("/api/audit", {
      headers: { authorization: "Bearer jwt-1", accept: "application/x-ndjson" },
    });
    const [blob, name] = save.mock.calls[0] as [Blob, string];
    expect(name).toBe("take-control-audit-2026-11-25.jsonl");
    expect(await blob.text()).toBe(body);
  });

  it("retries once with a renewed token after a 401, then reports the failure", async () => {
    const fetchFn = vi.fn(async () => new Response("", { status: 401 }));
    const token = vi.fn(async (renew: boolean) => (renew ? "fresh" : "stale"));
    await expect(downloadAudit({ token, fetchFn, save: vi.fn() })).rejects.toThrow(/answered 401/);
    expect(token.mock.calls).toEqual([[false], [true]]);
    expect(fetchFn).toHaveBeenCalledTimes(2);
  });

  it("names the file by date", () => {
    expect(auditFilename(Date.UTC(2026, 0, 2, 12))).toBe("take-control-audit-2026-01-02.jsonl");
  });
});
