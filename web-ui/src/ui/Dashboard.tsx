import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import type { HubClient } from "../client/hubClient";
import type { Connection } from "../client/state";
import type { OnlineRequest } from "../client/online";
import { followUpCount, followUpRows, knownSummary, onlineSummary, roleSeesTeam, unreadCount, waitingCount } from "../client/selectors";
import { notificationPermission, requestNotificationPermission, type NotifyPermission } from "./alerts";
import type { AuditContext } from "../text/auditText";
import { downloadAudit } from "../api/auditExport";
import { AuditLog } from "./AuditLog";
import { ConnectionBanner } from "./ConnectionBanner";
import { ConversationView, useMarkSeen } from "./ConversationView";
import { useCannedReplies, useHubState, useNow } from "./hooks";
import { useTransferAlerts, useWaitingAlerts } from "./useWaitingAlerts";
import { TransferNotices } from "./TransferNotices";
import { OnlineList } from "./OnlineList";
import { RecentPanel } from "./RecentPanel";
import { FollowUpPanel } from "./FollowUpPanel";
import { AssistantSettings } from "./settings/AssistantSettings";
import { CannedRepliesStore, cannedRepliesApi } from "../api/cannedReplies";
import { attachFiles, filesApi } from "../api/files";
import { FilesContext } from "./Attachments";
import { TeamPanel } from "./TeamPanel";

type View = "online" | "follow-up" | "recent" | "team" | "audit";
const VIEW_LABEL: Record<View, string> = { online: "Online", "follow-up": "Follow-up", recent: "Recent", team: "Team", audit: "Audit" };
/** The dashboard's top-level sections: Conversation (Online, Team, Audit) and Assistant (Settings). */
type Section = "conversation" | "assistant";
const SECTION_LABEL: Record<Section, string> = { conversation: "Conversation", assistant: "Assistant" };

export interface DashboardProps {
  client: HubClient;
  onSignOut?: (() => void) | undefined;
}

export function Dashboard({ client, onSignOut }: DashboardProps) {
  const state = useHubState(client);
  const now = useNow();
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [permission, setPermission] = useState<NotifyPermission>(notificationPermission);
  const [chosenView, setView] = useState<View>("online");
  const [section, setSection] = useState<Section>("conversation");
  const apiToken = useCallback((renew: boolean) => client.apiToken(renew), [client]);
  // One list of saved replies per signed-in session, shared by the composer and the settings.
  const replies = useMemo(() => new CannedRepliesStore(cannedRepliesApi({ token: apiToken })), [apiToken]);
  const repliesSnapshot = useCannedReplies(replies);
  const loadReplies = useCallback(() => replies.load(), [replies]);
  // Uploads and signed links with the operator's token; links are cached per conversation.
  const files = useMemo(() => filesApi({ hub: "", token: apiToken }), [apiToken]);
  const fileKeys = useRef(0);

  // The dashboard owns the socket's life: leaving it (sign-out) closes the socket for good.
  useEffect(() => {
    client.start();
    return () => client.stop();
  }, [client]);

  const waiting = waitingCount(state);
  const viewOnline = useCallback((patch: Partial<OnlineRequest>) => client.viewOnline(patch), [client]);

  // A ref beside the state: socket side effects must not run inside a state updater, which
  // React may call twice.
  const selectedRef = useRef<string | null>(null);
  const select = useCallback(
    (id: string) => {
      const prev = selectedRef.current;
      if (prev === id) return;
      // Only the shown conversation streams live; the others follow via the Online list.
      if (prev) client.closeConversation(prev);
      client.openConversation(id);
      selectedRef.current = id;
      setSelectedId(id);
    },
    [client],
  );

  useWaitingAlerts(state.alert, waiting, select);
  // A conversation handed to you is opened from its notice wherever you are in the dashboard.
  const openHanded = useCallback(
    (id: string) => {
      setSection("conversation");
      select(id);
    },
    [select],
  );
  useTransferAlerts(state.transfers, openHanded);

  const conversation = selectedId ? state.conversations[selectedId] : undefined;
  const markSeen = useCallback((id: string, seq: number) => client.markSeen(id, seq), [client]);
  useMarkSeen(conversation, markSeen);

  const session = state.session;
  const connected = state.connection.status === "connected";
  const signedIn = session !== null;
  useEffect(() => {
    if (signedIn) replies.load();
  }, [signedIn, replies]);

  // Team and Audit are for owners and editors only; everyone sees Online, Follow-up and Recent.
  const seesTeam = session !== null && roleSeesTeam(session.operator.role);
  const views: View[] = seesTeam ? ["online", "follow-up", "recent", "team", "audit"] : ["online", "follow-up", "recent"];
  const followUps = followUpCount(state);
  const view: View = views.includes(chosenView) ? chosenView : "online";

  // Fresh each time the tab is shown, and again after a reconnect (things moved meanwhile).
  useEffect(() => {
    if (view === "recent" && connected) client.loadRecent();
    // The list is live from `follow_up` frames; opening the view refreshes it anyway.
    if (view === "follow-up" && connected) client.loadFollowUps();
  }, [view, connected, client]);
  const tabRefs = useRef<Partial<Record<View, HTMLButtonElement | null>>>({});
  const onTabKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const i = views.indexOf(view);
    const to =
      e.key === "ArrowRight" ? views[(i + 1) % views.length]
      : e.key === "ArrowLeft" ? views[(i - 1 + views.length) % views.length]
      : e.key === "Home" ? views[0]
      : e.key === "End" ? views[views.length - 1]
      : undefined;
    if (!to) return;
    e.preventDefault();
    setView(to);
    tabRefs.current[to]?.focus();
  };

  const team = state.team;
  const auditContext = useMemo<AuditContext>(() => {
    const names = new Map<string, string>();
    for (const e of state.audit) if (e.actor) names.set(e.actor.id, e.actor.name);
    for (const c of state.colleagues.operators ?? []) names.set(c.id, c.name);
    for (const m of team?.members ?? []) names.set(m.id, m.name);
    const labels = state.visitorLabels;
    return { labelOf: (id) => labels[id], nameOf: (id) => names.get(id) };
  }, [state.audit, team, state.visitorLabels, state.colleagues.operators]);

  return (
    <FilesContext.Provider value={files}>
      <div className="app">
        <header className="topbar">
          <span className="brand">Take Control</span>
          <nav className="sections" aria-label="Sections">
            {(["conversation", "assistant"] as const).map((sec) => (
              <button
                key={sec}
                type="button"
                className={`sections__item${sec === section ? " sections__item--active" : ""}`}
                aria-current={sec === section ? "page" : undefined}
                onClick={() => setSection(sec)}
              >
                {SECTION_LABEL[sec]}
                {sec === "conversation" && section !== "conversation" && waiting > 0 && (
                  <span className="badge badge--waiting">{waiting}</span>
                )}
              </button>
            ))}
          </nav>
          {session && (
            <span className="topbar__workspace">
              {session.workspace.name} <span className="badge badge--plan">{session.workspace.plan}</span>
            </span>
          )}
          <span className="topbar__spacer" />
          <span className={`status status--${state.connection.status}`} role="status" aria-label={`Connection: ${statusText(state.connection.status)}`}>
            {statusText(state.connection.status)}
          </span>
          {permission === "default" && (
            <button
              type="button"
              className="btn btn--ghost"
              onClick={() => void requestNotificationPermission().then(setPermission)}
            >
              Enable desktop alerts
            </button>
          )}
          {session && (
            <span className="topbar__operator">
              {session.operator.name} <span className="topbar__role">{session.operator.role}</span>
            </span>
          )}
          {onSignOut && (
            <button type="button" className="btn btn--ghost" onClick={onSignOut}>
              Sign out
            </button>
          )}
        </header>

        <ConnectionBanner
          connection={state.connection}
          onReconnect={() => client.reconnectNow()}
          onSignIn={onSignOut}
        />
        {state.notices.length > 0 && (
          <div className="banner banner--error" role="alert">
            <span>{state.notices.at(-1)?.text}</span>
            <button type="button" className="link-button" onClick={() => client.clearNotices()}>
              Dismiss
            </button>
          </div>
        )}
        <TransferNotices
          transfers={state.transfers}
          onOpen={(t) => {
            openHanded(t.conversationId);
            client.dismissTransferNotice(t.id);
          }}
          onDismiss={(t) => client.dismissTransferNotice(t.id)}
        />

        {section === "assistant" && (
          <div className="layout">
            <aside className="online">
              <div className="online__head">
                <h1 className="online__section">Assistant</h1>
                <div role="tablist" aria-label="Assistant views" className="tabs">
                  <button type="button" role="tab" id="tab-settings" aria-selected="true" aria-controls="panel-settings" className="tab tab--active">
                    Settings
                  </button>
                </div>
              </div>
              <p className="online__empty">How the assistant and your team appear to visitors.</p>
            </aside>
            <main className="main main--scroll" role="tabpanel" id="panel-settings" aria-labelledby="tab-settings">
              <AssistantSettings token={apiToken} role={session?.operator.role ?? "operator"} replies={replies} />
            </main>
          </div>
        )}
        {/* Kept mounted while Assistant is shown: a half-written reply survives a look at the settings. */}
        <div className="layout" hidden={section !== "conversation"}>
          <aside className="online">
            <div className="online__head">
              <h1 className="online__section">Conversation</h1>
              <div role="tablist" aria-label="Conversation views" className="tabs" onKeyDown={onTabKeyDown}>
                {views.map((v) => (
                  <button
                    key={v}
                    ref={(el) => {
                      tabRefs.current[v] = el;
                    }}
                    type="button"
                    role="tab"
                    id={`tab-${v}`}
                    aria-selected={v === view}
                    aria-controls={v === view ? `panel-${v}` : undefined}
                    tabIndex={v === view ? 0 : -1}
                    className={`tab${v === view ? " tab--active" : ""}`}
                    onClick={() => setView(v)}
                  >
                    {VIEW_LABEL[v]}
                    {v === "online" && waiting > 0 && <span className="badge badge--waiting">{waiting}</span>}
                    {v === "follow-up" && followUps > 0 && (
                      <span className="badge badge--follow-up">{followUps}</span>
                    )}
                  </button>
                ))}
              </div>
            </div>
            <div role="tabpanel" id={`panel-${view}`} aria-labelledby={`tab-${view}`} className={`online__panel${view === "online" ? " online__panel--fill" : ""}`}>
              {view === "online" && (
                <OnlineList
                  online={state.online}
                  selectedId={selectedId}
                  unread={(c) => (c.id === selectedId ? 0 : unreadCount(state, c))}
                  now={now}
                  onSelect={select}
                  onView={viewOnline}
                />
              )}
              {view === "follow-up" && (
                <FollowUpPanel status={state.followUps.status} rows={followUpRows(state)} selectedId={selectedId} now={now} onSelect={select} />
              )}
              {view === "recent" && (
                <RecentPanel
                  recent={state.recent}
                  search={state.search}
                  connected={connected}
                  selectedId={selectedId}
                  now={now}
                  onSelect={select}
                  onLoadMore={(cursor) => client.loadRecent(cursor)}
                  onSearch={(q) => client.search(q)}
                  onClearSearch={() => client.clearSearch()}
                />
              )}
              {view === "team" && session && (
                <TeamPanel
                  members={team?.members ?? null}
                  selfId={session.operator.id}
                  releasing={state.forceReleasing}
                  connected={connected}
                  onOpen={select}
                  onForceRelease={(id) => client.forceRelease(id)}
                />
              )}
              {view === "audit" && (
                <AuditLog
                  entries={state.audit}
                  loaded={team !== null}
                  context={auditContext}
                  now={now}
                  onDownload={() => downloadAudit({ token: (renew) => client.apiToken(renew) })}
                />
              )}
            </div>
          </aside>
          <main className="main">
            {conversation && session ? (
              <ConversationView
                key={conversation.id}
                conversation={conversation}
                summary={onlineSummary(state, conversation.id)}
                fallbackLabel={knownSummary(state, conversation.id)?.visitor_label ?? state.visitorLabels[conversation.id]}
                session={session}
                connected={connected}
                replies={repliesSnapshot}
                now={now}
                colleagues={state.colleagues}
                nameOf={auditContext.nameOf}
                actions={{
                  takeover: () => client.takeover(conversation.id),
                  release: (force) => client.release(conversation.id, force),
                  loadColleagues: () => client.loadColleagues(),
                  transfer: (to, epoch, note) => client.transfer(conversation.id, to, epoch, note),
                  dismissTransfer: () => client.dismissTransfer(conversation.id),
                  send: (text, attachments) => void client.sendMessage(conversation.id, text, attachments),
                  note: (text, attachments) => void client.sendNote(conversation.id, text, attachments),
                  attach: (list) => {
                    const id = conversation.id;
                    const inBox = client.getState().conversations[id]?.composerFiles ?? [];
                    attachFiles(files, list, {
                      taken: inBox.filter((f) => f.status !== "failed").length,
                      conversationId: id,
                      key: () => `f${++fileKeys.current}`,
                      add: (file) => client.composerFileAdded(id, file),
                      settle: (key, result) => client.composerFileSettled(id, key, result),
                    });
                  },
                  removeFile: (key) => client.removeComposerFile(conversation.id, key),
                  setTyping: (active) => client.setTyping(conversation.id, active),
                  retry: (clientId) => client.retryMessage(conversation.id, clientId),
                  retryNote: (clientId) => client.retryNote(conversation.id, clientId),
                  dismissError: () => client.dismissError(conversation.id),
                  open: select,
                  loadReplies,
                  setComposer: (text) => client.setComposer(conversation.id, text),
                  toggleBrief: () => client.toggleBrief(conversation.id),
                  suggest: () => client.suggest(conversation.id),
                  insertSuggestion: () => client.insertSuggestion(conversation.id),
                  dismissSuggestion: () => client.dismissSuggestion(conversation.id),
                  useInterrupted: () => client.useInterrupted(conversation.id),
                  discardInterrupted: () => client.discardInterrupted(conversation.id),
                  dismissInterrupted: () => client.dismissInterrupted(conversation.id),
                }}
              />
            ) : (
              <div className="placeholder">
                <h2>Select a conversation</h2>
                <p>
                  Pick a conversation from the Online list to read it. Conversations waiting for a human are at the top; earlier
                  ones are under Recent.
                </p>
              </div>
            )}
          </main>
        </div>
      </div>
    </FilesContext.Provider>
  );
}

function statusText(status: Connection["status"]): string {
  switch (status) {
    case "connected":
      return "Live";
    case "connecting":
      return "Connecting…";
    case "reconnecting":
      return "Reconnecting…";
    case "stopped":
      return "Offline";
    case "idle":
      return "Not connected";
  }
}
