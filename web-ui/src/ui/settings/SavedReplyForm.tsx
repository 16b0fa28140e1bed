import { useId, useState, type FormEvent } from "react";
import type { CannedReplyInput } from "../../protocol/frames";
import { LIMITS } from "../../protocol/frames";
import { checkReply, type FieldErrors } from "../../api/cannedReplies";

export interface SavedReplyFormProps {
  /** The reply being edited; empty fields for a new one. */
  initial: CannedReplyInput;
  submitLabel: string;
  /** Rejects with the hub's refusal, whose message is shown verbatim. */
  onSave(input: CannedReplyInput): Promise<void>;
  onCancel(): void;
}

/** One saved reply's fields. The hub checks everything again; its `detail` is shown as it is. */
export function SavedReplyForm({ initial, submitLabel, onSave, onCancel }: SavedReplyFormProps) {
  const id = useId();
  const [fields, setFields] = useState<CannedReplyInput>(initial);
  // Field errors appear once a save was tried: an empty form is not an error while being filled.
  const [tried, setTried] = useState(false);
  const [saving, setSaving] = useState(false);
  const [refused, setRefused] = useState<string | null>(null);

  const check = checkReply(fields);
  const errors: FieldErrors = tried && !check.ok ? check.errors : {};
  const set = (key: keyof CannedReplyInput, value: string) => {
    setFields((f) => ({ ...f, [key]: value }));
    setRefused(null);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setTried(true);
    if (!check.ok || saving) return;
    setSaving(true);
    setRefused(null);
    try {
      await onSave(check.input);
    } catch (err) {
      setRefused(err instanceof Error ? err.message : String(err));
    } finally {
      setSaving(false);
    }
  };

  const field = (key: keyof CannedReplyInput) => ({
    id: `${id}-${key}`,
    "aria-invalid": errors[key] !== undefined,
    "aria-describedby": `${id}-${key}-help${errors[key] ? ` ${id}-${key}-error` : ""}`,
  });
  const error = (key: keyof CannedReplyInput) =>
    errors[key] && (
      <p id={`${id}-${key}-error`} className="field__error">
        {errors[key]}
      </p>
    );

  return (
    <form className="reply-form" onSubmit={(e) => void submit(e)} noValidate aria-label={submitLabel}>
      <div className="field">
        <label htmlFor={`${id}-title`} className="field__label">
          Title
        </label>
        <input
          {...field("title")}
          className="field__input"
          type="text"
          value={fields.title}
          autoComplete="off"
          onChange={(e) => set("title", e.target.value)}
        />
        {error("title")}
        <p id={`${id}-title-help`} className="field__help">
          What your team sees in the list, for example “Refund timing”. Up to {LIMITS.maxCannedTitleChars} characters.
        </p>
      </div>
      <div className="field">
        <label htmlFor={`${id}-shortcut`} className="field__label">
          Shortcut
        </label>
        <span className="reply-form__shortcut">
          <span aria-hidden="true">/</span>
          <input
            {...field("shortcut")}
            className="field__input"
            type="text"
            value={fields.shortcut}
            autoComplete="off"
            spellCheck={false}
            // Shortcuts are lowercase: typing "Refund" should not be an error.
            onChange={(e) => set("shortcut", e.target.value.toLowerCase())}
          />
        </span>
        {error("shortcut")}
        <p id={`${id}-shortcut-help`} className="field__help">
          Type / and this in a chat to find the reply. Lowercase letters, digits, - and _; up to {LIMITS.maxShortcutChars}.
        </p>
      </div>
      <div className="field">
        <label htmlFor={`${id}-text`} className="field__label">
          Text
        </label>
        <textarea
          {...field("text")}
          className="field__input reply-form__text"
          rows={4}
          value={fields.text}
          onChange={(e) => set("text", e.target.value)}
        />
        {error("text")}
        <p id={`${id}-text-help`} className="field__help">
          Put into the message box for you to edit before sending; it is never sent by itself.
        </p>
      </div>
      {refused && (
        <p className="field__error" role="alert">
          {refused}
        </p>
      )}
      <div className="profile-form__actions">
        <button type="submit" className="btn btn--primary" disabled={saving}>
          {saving ? "Saving…" : submitLabel}
        </button>
        <button type="button" className="btn btn--outline" onClick={onCancel} disabled={saving}>
          Cancel
        </button>
      </div>
    </form>
  );
}
