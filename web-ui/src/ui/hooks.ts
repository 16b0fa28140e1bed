import { useEffect, useState, useSyncExternalStore } from "react";
import type { CannedRepliesStore, RepliesSnapshot } from "../api/cannedReplies";
import type { HubClient } from "../client/hubClient";
import type { ClientState } from "../client/state";

/** The client's state; React re-renders on every reducer step that changed it. */
export function useHubState(client: HubClient): ClientState {
  return useSyncExternalStore(client.subscribe, client.getState);
}

/** The saved replies of this session; re-renders when the store's list changes. */
export function useCannedReplies(store: CannedRepliesStore): RepliesSnapshot {
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}

/** The current time, refreshed every `everyMs` so relative times move on. */
export function useNow(everyMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
