import { useEffect, useRef } from "react";
import type { ClientState, ReceivedTransfer } from "../client/state";
import { beep, notify, primeAudio, titleFor } from "./alerts";

/**
 * The ways a dashboard tells its operator that visitors wait for a human, apart from the list
 * itself: the page title counts them, and each new alert beeps and shows a desktop
 * notification that opens the conversation when clicked.
 */
export function useWaitingAlerts(alert: ClientState["alert"], waiting: number, open: (id: string) => void) {
  useEffect(() => {
    document.title = titleFor(waiting);
  }, [waiting]);

  // Audio may only start after a gesture; any key or click on the page counts.
  useEffect(() => {
    const prime = () => primeAudio();
    window.addEventListener("pointerdown", prime, { once: true });
    window.addEventListener("keydown", prime, { once: true });
    return () => {
      window.removeEventListener("pointerdown", prime);
      window.removeEventListener("keydown", prime);
    };
  }, []);

  // Each alert once: the id grows with every new one, and a re-render must not repeat it.
  const alertId = alert?.id ?? 0;
  const handled = useRef(alertId);
  useEffect(() => {
    if (!alert || alertId === handled.current) return;
    handled.current = alertId;
    beep();
    // The newcomer may be outside the window the list shows: then the count speaks for it.
    const first = alert.conversations[0];
    const body =
      alert.conversations.length === 1 && first
        ? `${first.visitor_label} is waiting for a human.`
        : alert.conversations.length > 1
          ? `${alert.conversations.length} conversations are waiting for a human.`
          : alert.waiting === 1
            ? "A conversation is waiting for a human."
            : `${alert.waiting} conversations are waiting for a human.`;
    notify("A visitor needs a human", body, () => {
      if (first) open(first.id);
    });
  }, [alertId, alert, open]);
}

/** "Martin Keller transferred Visitor 7F3A to you": the notice's words, and the notification's title. */
export function transferTitle(t: ReceivedTransfer): string {
  return `${t.by.name} transferred ${t.visitorLabel} to you`;
}

/**
 * A conversation handed to this operator gets the same attention as a visitor waiting for a
 * human: a beep, and a desktop notification (the note as its text) that opens it when clicked.
 * The in-page notice is `TransferNotices`.
 */
export function useTransferAlerts(transfers: ReceivedTransfer[], open: (id: string) => void) {
  // Each once: ids grow with every transfer received; a re-render or a dismissal repeats none.
  const newest = transfers.at(-1)?.id ?? 0;
  const handled = useRef(newest);
  useEffect(() => {
    const fresh = transfers.filter((t) => t.id > handled.current);
    if (fresh.length === 0) return;
    handled.current = newest;
    beep();
    for (const t of fresh) {
      // One notification per conversation: a second transfer of it replaces the first.
      notify(transferTitle(t), t.note ?? "Open it to answer the visitor.", () => open(t.conversationId), `take-control-transfer-${t.conversationId}`);
    }
  }, [transfers, newest, open]);
}
