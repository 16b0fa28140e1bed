import { useMemo } from "react";
import type { Role } from "../../protocol/frames";
import type { CannedRepliesStore } from "../../api/cannedReplies";
import { OperatorProfileSection } from "./OperatorProfileSection";
import { profileApi, type ProfileApi } from "../../api/profileApi";
import { SavedRepliesSection } from "./SavedRepliesSection";

export interface AssistantSettingsProps {
  /** The operator's JWT for the hub's HTTP API; `renew` after a 401. */
  token(renew: boolean): Promise<string>;
  /** The signed-in operator's role: who may edit saved replies. */
  role: Role;
  /** The session's saved replies, shared with the composer. */
  replies: CannedRepliesStore;
  /** Injectable for tests. */
  api?: ProfileApi;
}

/** Assistant → Settings. */
export function AssistantSettings({ token, role, replies, api }: AssistantSettingsProps) {
  const profile = useMemo(() => api ?? profileApi({ token }), [api, token]);
  return (
    <div className="settings">
      <h2 className="settings__title">Settings</h2>
      <p className="settings__lead">How the assistant and your team appear to visitors in the chat widget, and the replies your team keeps ready.</p>
      <div className="settings__sections">
        <OperatorProfileSection api={profile} />
        <SavedRepliesSection store={replies} role={role} />
      </div>
    </div>
  );
}
