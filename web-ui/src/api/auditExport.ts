/** "Download JSON lines": the full audit log from `GET /api/audit`, saved as a file. */

export interface AuditExportOptions {
  /** The operator's JWT; `renew` after a 401 (an expired token). */
  token(renew: boolean): Promise<string>;
  fetchFn?: typeof fetch;
  save?: (blob: Blob, filename: string) => void;
  now?: () => number;
}

/** Fetches the export with the operator's token and hands it to `save`. Throws with a readable message. */
export async function downloadAudit({ token, fetchFn = fetch, save = saveBlob, now = Date.now }: AuditExportOptions): Promise<void> {
  const get = async (renew: boolean) =>
    // The hub's endpoints live at the origin's root, whatever path serves the page.
    fetchFn("/api/audit", {
      headers: { authorization: `Bearer ${await token(renew)}`, accept: "application/x-ndjson" },
    });
  let res = await get(false);
  if (res.status === 401) res = await get(true);
  if (!res.ok) {
    const why = res.status === 401 || res.status === 403 ? " (not allowed: sign in again as an owner or editor)" : "";
    throw new Error(`The audit export failed: GET /api/audit answered ${res.status}${why}.`);
  }
  const blob = await res.blob();
  save(blob, auditFilename(now()));
}

export function auditFilename(at: number): string {
  return `take-control-audit-${new Date(at).toISOString().slice(0, 10)}.jsonl`;
}

/** Saves a blob through a temporary `<a download>`. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // Revoked a little later: some browsers read the URL after `click()` returns.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
