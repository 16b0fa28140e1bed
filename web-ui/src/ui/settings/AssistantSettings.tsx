import { useMemo } from "react";
import { OperatorProfileSection } from "./OperatorProfileSection";
import { profileApi, type ProfileApi } from "./profileApi";

export interface AssistantSettingsProps {
  /** The operator's JWT for the hub's HTTP API; `renew` after a 401. */
  token(renew: boolean): Promise<string>;
  /** Injectable for tests. */
  api?: ProfileApi;
}

/** Assistant → Settings. */
export function AssistantSettings({ token, api }: AssistantSettingsProps) {
  const profile = useMemo(() => api ?? profileApi({ token }), [api, token]);
  return (
    <div className="settings">
      <h2 className="settings__title">Settings</h2>
      <p className="settings__lead">How the assistant and your team appear to visitors in the chat widget.</p>
      <OperatorProfileSection api={profile} />
    </div>
  );
}
