import { useEffect, useId, useRef, useState, type ChangeEvent, type FormEvent } from "react";
import type { ProfileView } from "../../protocol/frames";
import { ChatPreview } from "./ChatPreview";
import { Chevron } from "./icons";
import { checkDisplayName } from "../../text/displayName";
import { AVATAR_TYPES, precheckAvatar, type ProfileApi } from "../../api/profileApi";

export interface OperatorProfileSectionProps {
  api: ProfileApi;
  /** Where avatar paths resolve (the hub); the dashboard's own origin by default. */
  hubOrigin?: string;
  /** Open from the start (tests, deep links). */
  defaultExpanded?: boolean;
}

type Load = { kind: "idle" } | { kind: "loading" } | { kind: "error"; message: string } | { kind: "loaded" };

function PersonIcon() {
  return (
    <svg className="icon" viewBox="0 0 16 16" width="18" height="18" aria-hidden="true" focusable="false">
      <path fill="currentColor" d="M8 8a3 3 0 1 0 0-6 3 3 0 0 0 0 6Zm0 1.5c-2.7 0-5 1.4-5 3.2V14h10v-1.3c0-1.8-2.3-3.2-5-3.2Z" />
    </svg>
  );
}

/**
 * Assistant → Settings → "Live chat operator": the display name and avatar visitors see when this
 * operator takes control. The hub validates everything again; its refusals are shown verbatim.
 */
export function OperatorProfileSection({ api, hubOrigin = window.location.origin, defaultExpanded = false }: OperatorProfileSectionProps) {
  const id = useId();
  const [expanded, setExpanded] = useState(defaultExpanded);
  const [load, setLoad] = useState<Load>({ kind: "idle" });
  const [profile, setProfile] = useState<ProfileView | null>(null);
  const [name, setName] = useState("");
  const [avatarUrl, setAvatarUrl] = useState<string | null>(null);
  const [uploading, setUploading] = useState(false);
  const [uploadError, setUploadError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [saved, setSaved] = useState<ProfileView | null>(null);
  const [preview, setPreview] = useState(false);
  const started = useRef(false);

  const fetchProfile = async () => {
    setLoad({ kind: "loading" });
    try {
      const p = await api.get();
      setProfile(p);
      setName(p.display_name ?? "");
      setAvatarUrl(p.avatar_url);
      setLoad({ kind: "loaded" });
    } catch (e) {
      setLoad({ kind: "error", message: e instanceof Error ? e.message : String(e) });
    }
  };

  // Loaded the first time the section opens (and again only by "Try again").
  useEffect(() => {
    if (!expanded || started.current) return;
    started.current = true;
    void fetchProfile();
  }, [expanded]);

  const check = checkDisplayName(name);
  const accountName = profile?.account_name ?? "";
  const shownName = (check.ok ? check.value : null) ?? accountName;

  const edited = () => setSaved(null);

  const onFile = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = ""; // choosing the same file again still fires a change
    if (!file) return;
    edited();
    const refused = precheckAvatar(file);
    if (refused) {
      setUploadError(refused);
      return;
    }
    setUploadError(null);
    setUploading(true);
    try {
      const uploaded = await api.uploadAvatar(file);
      setAvatarUrl(uploaded.avatar_url);
    } catch (err) {
      setUploadError(err instanceof Error ? err.message : String(err));
    } finally {
      setUploading(false);
    }
  };

  const onSave = async (e: FormEvent) => {
    e.preventDefault();
    if (!check.ok || saving || uploading) return;
    setSaving(true);
    setSaveError(null);
    setSaved(null);
    try {
      const p = await api.save({ display_name: check.value ?? "", avatar_url: avatarUrl });
      setProfile(p);
      setName(p.display_name ?? "");
      setAvatarUrl(p.avatar_url);
      setSaved(p);
    } catch (err) {
      setSaveError(err instanceof Error ? err.message : String(err));
    } finally {
      setSaving(false);
    }
  };

  const panelId = `${id}-panel`;
  const nameId = `${id}-name`;
  const nameHelp = `${id}-name-help`;
  const nameError = `${id}-name-error`;
  const fileId = `${id}-file`;
  const fileHelp = `${id}-file-help`;

  return (
    <section className="settings-section">
      <h3 className="settings-section__heading">
        <button type="button" className="settings-section__toggle" aria-expanded={expanded} aria-controls={panelId} onClick={() => setExpanded(!expanded)}>
          <span className="settings-section__icon">
            <PersonIcon />
          </span>
          <span className="settings-section__text">
            <span className="settings-section__title">Live chat operator</span>
            <span className="settings-section__sub">Your name and avatar when you take control of a chat</span>
          </span>
          <Chevron open={expanded} />
        </button>
      </h3>
      {expanded && (
        <div id={panelId} className="settings-section__body">
          {load.kind === "loading" && <p className="settings__muted">Loading your profile…</p>}
          {load.kind === "error" && (
            <div className="inline-error inline-error--block" role="alert">
              <span>{load.message}</span>
              <button type="button" className="link-button" onClick={() => void fetchProfile()}>
                Try again
              </button>
            </div>
          )}
          {load.kind === "loaded" && profile && (
            <form className="profile-form" onSubmit={(e) => void onSave(e)} noValidate>
              {!profile.saved && (
                <p className="settings__note">
                  You have no profile yet: visitors see “Human joined the chat” and a placeholder avatar when you take control.
                </p>
              )}
              <div className="field">
                <label htmlFor={nameId} className="field__label">
                  Display name
                </label>
                <input
                  id={nameId}
                  className="field__input"
                  type="text"
                  value={name}
                  placeholder={accountName}
                  autoComplete="off"
                  spellCheck={false}
                  aria-invalid={!check.ok}
                  aria-describedby={check.ok ? nameHelp : `${nameError} ${nameHelp}`}
                  onChange={(e) => {
                    setName(e.target.value);
                    edited();
                  }}
                />
                {!check.ok && (
                  <p id={nameError} className="field__error" role="alert">
                    {check.message}
                  </p>
                )}
                <p id={nameHelp} className="field__help">
                  What visitors see, for example “Martin from Support”. Under 50 characters. Leave it empty to use your
                  account name ({accountName}).
                  <span className={`field__count${check.length > 49 ? " field__count--over" : ""}`}> {check.length}/49</span>
                </p>
              </div>

              <div className="field">
                <span className="field__label" id={`${fileId}-label`}>
                  Avatar
                </span>
                <div className="avatar-field">
                  {avatarUrl ? (
                    <img className="avatar-field__img" src={avatarUrl} alt="Your avatar" />
                  ) : (
                    <span className="avatar-field__none" aria-label="No avatar" role="img">
                      <PersonIcon />
                    </span>
                  )}
                  <div className="avatar-field__actions">
                    <input
                      id={fileId}
                      className="sr-only"
                      type="file"
                      accept={AVATAR_TYPES.join(",")}
                      aria-label="Avatar image"
                      aria-describedby={fileHelp}
                      disabled={uploading}
                      onChange={(e) => void onFile(e)}
                    />
                    <label htmlFor={fileId} className={`btn btn--outline${uploading ? " btn--busy" : ""}`}>
                      {uploading ? "Uploading…" : avatarUrl ? "Replace image" : "Upload image"}
                    </label>
                    {avatarUrl && (
                      <button
                        type="button"
                        className="btn btn--ghost"
                        onClick={() => {
                          setAvatarUrl(null);
                          edited();
                        }}
                      >
                        Remove
                      </button>
                    )}
                  </div>
                </div>
                {uploadError && (
                  <p className="field__error" role="alert">
                    {uploadError}
                  </p>
                )}
                <p id={fileHelp} className="field__help">
                  A square PNG, JPEG or WebP image, at least 150×150 px. Without one, visitors see a placeholder.
                </p>
              </div>

              <div className="profile-form__actions">
                <button type="button" className="btn btn--outline" onClick={() => setPreview(true)} aria-pressed={preview}>
                  Preview in chat
                </button>
                <button type="submit" className="btn btn--primary" disabled={!check.ok || saving || uploading}>
                  {saving ? "Saving…" : "Save"}
                </button>
              </div>
              {saveError && (
                <p className="field__error" role="alert">
                  {saveError}
                </p>
              )}
              {saved && (
                <p className="profile-form__saved" role="status">
                  <strong>Saved.</strong> Visitors will see “{saved.visitor_name}” from your next Take Control session;
                  a chat you are handling now keeps the name it started with.
                </p>
              )}
              {preview && (
                <div className="profile-form__preview">
                  <p className="field__label">What visitors see when you take control</p>
                  <ChatPreview name={shownName} avatarUrl={avatarUrl} hubOrigin={hubOrigin} />
                </div>
              )}
            </form>
          )}
        </div>
      )}
    </section>
  );
}
