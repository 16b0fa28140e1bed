/**
 * The widget's DOM inside its shadow root: launcher, panel, log, typing line and composer. It
 * only renders a `WidgetState` (`update`) and reports the visitor's gestures (`ViewHandlers`);
 * what a bubble, notice or header looks like comes from `render.ts`.
 */
import {
  awayNode,
  emailLeftNode,
  headerNode,
  messageNode,
  noticeNode,
  statusLine,
  visitorName,
  WIDGET_CSS,
  applyStyles,
  type FileLinker,
} from "./render";
import { FILE_ACCEPT, fileSize, type PendingFile } from "../api/files";
import {
  canAskForHuman,
  emailLeftText,
  newConversationControl,
  timeline,
  visiblePartial,
  type EmailPromptView,
  type TimelineItem,
} from "./reducer";
import type { WidgetState } from "./state";

export interface ViewHandlers {
  toggle(open: boolean): void;
  /** Returns whether the text was taken (the box is then emptied). */
  send(text: string): boolean;
  /** A keystroke; `text` is the box's content. */
  input(text: string): void;
  retry(clientId: string): void;
  reconnect(): void;
  /** "Talk to a human". */
  askHuman(): void;
  /** "New conversation", confirmed. */
  newConversation(): void;
  /** Files chosen, dropped or pasted: each is checked and uploaded, and shows as a chip. */
  attach(files: File[]): void;
  /** × on a file's chip. */
  removeFile(key: string): void;
  /** The signed links of the conversation's files. */
  files: FileLinker;
  /** Send in the email prompt; returns whether the address was taken (checked and sent). */
  leaveEmail(email: string): boolean;
  /** "No thanks" in the email prompt (or Cancel while changing the address). */
  closeEmailPrompt(): void;
  /** "Change" beside the address left. */
  changeEmail(): void;
}

export interface WidgetView {
  update(state: WidgetState): void;
  readonly root: ShadowRoot;
}

const CLIP_ICON =
  "M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v12.5a5.5 5.5 0 0 0 11 0V6h-1.5Z";

const CHAT_ICON =
  "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2Zm3 6.5a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3Zm5 0a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3Zm5 0a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3Z";

export function createView(root: ShadowRoot, hubOrigin: string, h: ViewHandlers, title = "Chat with us"): WidgetView {
  const doc = root.ownerDocument;
  const make = <K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text?: string) => {
    const n = doc.createElement(tag);
    n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  };
  applyStyles(root, WIDGET_CSS);
  const wrap = make("div", "tc");

  const icon = (d: string) => {
    const svg = doc.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = doc.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", d);
    svg.append(path);
    return svg;
  };
  const launcher = make("button", "tc-launcher");
  launcher.type = "button";
  const badge = make("span", "tc-badge");
  badge.hidden = true;
  launcher.append(icon(CHAT_ICON), badge);

  // A non-modal dialog: it takes focus when opened and gives it back to the launcher when closed,
  // but traps nothing (Tab may leave it for the page).
  const panel = make("section", "tc-panel");
  panel.id = "tc-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  panel.hidden = true;
  const header = headerNode(doc, title, null);
  const who = header.querySelector(".tc-who") as HTMLElement;
  const close = make("button", "tc-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Close chat");
  // "New conversation", and in its place once pressed, the question: "Start new? Yes Cancel".
  const button = (text: string) => {
    const b = make("button", "tc-new", text);
    b.type = "button";
    return b;
  };
  const restart = make("div", "tc-restart");
  const newBtn = button("New conversation");
  const ask = make("div", "tc-restart");
  const question = make("span", "", "Start new?");
  question.id = "tc-restart-q";
  ask.setAttribute("role", "group");
  ask.setAttribute("aria-labelledby", question.id);
  const yes = button("Yes");
  yes.setAttribute("aria-label", "Yes, start a new conversation");
  const cancel = button("Cancel");
  ask.append(question, yes, cancel);
  restart.append(newBtn, ask);
  header.append(restart, close);

  const conn = make("div", "tc-conn");
  conn.setAttribute("role", "status");
  const connText = make("span", "");
  const retryConn = make("button", "tc-link", "Retry");
  retryConn.type = "button";
  conn.append(connText, retryConn);

  // The list is not live itself (it would also read out the visitor's own messages, and each one
  // again when it is stored): `said` is, and gets each new answer and notice once (see `update`).
  const log = make("div", "tc-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "off");
  log.setAttribute("aria-label", "Messages");
  const said = make("div", "tc-sr");
  said.setAttribute("aria-live", "polite");
  const empty = make("p", "tc-empty", "Ask us anything. Our assistant answers right away, and a teammate can join whenever you need a person.");
  const typing = make("div", "tc-typing");
  typing.setAttribute("aria-live", "polite");

  // The way to a person: a quiet link under the chat, or where the request stands.
  const human = make("div", "tc-human");
  const askHuman = make("button", "tc-link", "Talk to a human");
  askHuman.type = "button";
  const humanState = make("span", "");
  humanState.setAttribute("role", "status");
  human.append(askHuman, humanState);

  // Files waiting to go with the next message, each with its ×; a refusal is read out at once.
  const chips = make("div", "tc-chips");
  chips.setAttribute("aria-label", "Attached files");
  chips.setAttribute("role", "group");
  const form = make("form", "tc-form");
  const attachBtn = make("button", "tc-attach");
  attachBtn.type = "button";
  attachBtn.title = "Attach an image or a PDF";
  attachBtn.setAttribute("aria-label", "Attach files");
  attachBtn.append(icon(CLIP_ICON));
  const picker = make("input", "");
  picker.type = "file";
  picker.multiple = true;
  picker.accept = FILE_ACCEPT;
  picker.hidden = true;
  picker.setAttribute("aria-label", "Attach files");
  const input = make("textarea", "tc-input");
  input.rows = 1;
  input.placeholder = "Type a message…";
  input.setAttribute("aria-label", "Message");
  const sendBtn = make("button", "tc-send", "Send");
  sendBtn.type = "submit";
  form.append(attachBtn, picker, input, sendBtn);
  panel.append(header, conn, empty, log, said, typing, human, chips, form);
  wrap.append(panel, launcher);
  root.append(wrap);

  let open = false;
  /** The visitor closed the chat (×, Escape): focus goes back to the launcher, even from nowhere. */
  const shut = () => {
    h.toggle(false);
    launcher.focus();
  };
  launcher.addEventListener("click", () => h.toggle(!open));
  close.addEventListener("click", shut);
  retryConn.addEventListener("click", () => h.reconnect());
  askHuman.addEventListener("click", () => h.askHuman());
  /** The question is on screen (a gesture of the visitor's; the state decides whether it may be). */
  let confirming = false;
  let last: WidgetState | null = null;
  const confirm = (on: boolean, focus: HTMLElement) => {
    confirming = on;
    if (last) update(last);
    focus.focus();
  };
  newBtn.addEventListener("click", () => confirm(true, cancel));
  cancel.addEventListener("click", () => confirm(false, newBtn));
  yes.addEventListener("click", () => {
    confirm(false, input);
    h.newConversation();
  });
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !e.isComposing) shut();
  });
  const submit = () => {
    if (h.send(input.value)) input.value = "";
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", () => h.input(input.value));
  attachBtn.addEventListener("click", () => picker.click());
  picker.addEventListener("change", () => {
    h.attach([...(picker.files ?? [])]);
    picker.value = ""; // the same file chosen again is a new attachment
  });
  // A screenshot pasted into the box is attached; text pasted with it is pasted as usual.
  input.addEventListener("paste", (e) => {
    const files = [...(e.clipboardData?.files ?? [])];
    if (files.length === 0) return;
    if (!e.clipboardData?.getData("text/plain")) e.preventDefault();
    h.attach(files);
  });
  // Files dropped anywhere on the open chat; without this the browser would open them in place of the page.
  const dragging = (e: DragEvent) => !!e.dataTransfer?.types.includes("Files");
  panel.addEventListener("dragover", (e) => {
    if (!dragging(e)) return;
    e.preventDefault();
    panel.classList.add("tc-panel--drop");
  });
  panel.addEventListener("dragleave", (e) => {
    if (!panel.contains(e.relatedTarget as Node | null)) panel.classList.remove("tc-panel--drop");
  });
  panel.addEventListener("drop", (e) => {
    panel.classList.remove("tc-panel--drop");
    if (!dragging(e)) return;
    e.preventDefault();
    h.attach([...(e.dataTransfer?.files ?? [])]);
  });

  let shownFiles: PendingFile[] | null = null;
  const renderChips = (files: PendingFile[]) => {
    if (files === shownFiles) return;
    shownFiles = files;
    chips.hidden = files.length === 0;
    chips.replaceChildren(
      ...files.map((f) => {
        const chip = make("span", `tc-chip${f.status === "failed" ? " tc-chip--failed" : ""}`);
        const what = make(
          "span",
          "",
          f.status === "failed" ? f.error : f.attachment ? `${f.attachment.name} (${fileSize(f.attachment.size)})` : `${f.name}: uploading…`,
        );
        what.dir = "auto";
        if (f.status === "failed") what.setAttribute("role", "alert");
        const x = make("button", "", "×");
        x.type = "button";
        x.setAttribute("aria-label", `Remove ${f.name}`);
        x.addEventListener("click", () => {
          h.removeFile(f.key);
          input.focus();
        });
        chip.append(what, x);
        return chip;
      }),
    );
  };

  // The email prompt: one card, moved in the log under what it answers and updated in place, so
  // what the visitor typed survives a refusal or a re-render.
  const prompt = make("form", "tc-prompt");
  prompt.noValidate = true; // our check and our words, not the browser's bubble
  prompt.setAttribute("aria-label", "Get our answer by email");
  const emailLabel = make("label", "", "Your email (optional)");
  emailLabel.htmlFor = "tc-email";
  const email = make("input", "");
  email.id = "tc-email";
  email.type = "email";
  email.autocomplete = "email";
  email.placeholder = "you@example.com";
  email.dir = "auto";
  const emailError = make("p", "tc-err");
  emailError.id = "tc-email-error";
  emailError.setAttribute("role", "alert");
  const consent = make("p", "");
  consent.id = "tc-email-consent";
  const promptActions = make("div", "");
  const emailSend = make("button", "tc-send", "Send");
  emailSend.type = "submit";
  const noThanks = make("button", "tc-link", "No thanks");
  noThanks.type = "button";
  promptActions.append(emailSend, noThanks);
  prompt.append(emailLabel, email, emailError, consent, promptActions);
  prompt.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!emailSend.disabled) h.leaveEmail(email.value);
  });
  noThanks.addEventListener("click", () => {
    // The card goes from under the focus: the message box takes it.
    h.closeEmailPrompt();
    input.focus();
  });
  /** What the card was last shown for: a new request (or Change) starts from the address left. */
  let promptFor: string | null = null;
  const showPrompt = (p: EmailPromptView) => {
    const shownFor = `${p.mode}:${p.seq}`;
    if (shownFor !== promptFor) {
      promptFor = shownFor;
      email.value = p.email ?? "";
    }
    consent.textContent = p.consent;
    consent.hidden = p.consent === "";
    emailError.textContent = p.error ?? "";
    emailError.hidden = p.error === null;
    email.setAttribute("aria-invalid", String(p.error !== null));
    email.setAttribute("aria-describedby", [p.error !== null && emailError.id, p.consent !== "" && consent.id].filter(Boolean).join(" "));
    email.readOnly = p.sending;
    emailSend.disabled = p.sending;
    emailSend.textContent = p.sending ? "Sending…" : "Send";
    noThanks.textContent = p.mode === "change" ? "Cancel" : "No thanks";
    return prompt;
  };

  /** Rendered lines by key, with what they were rendered from. */
  const lines = new Map<string, { sig: string; node: HTMLElement }>();

  const build = (item: TimelineItem): HTMLElement => {
    if (item.kind === "notice") return noticeNode(doc, item.text);
    if (item.kind === "away") return awayNode(doc, item.text, item.back);
    if (item.kind === "email_prompt") return showPrompt(item.prompt);
    if (item.kind === "email_left") {
      const change = () => {
        h.changeEmail();
        email.focus();
      };
      return emailLeftNode(doc, item.email, item.change ? change : null);
    }
    const clientId = item.clientId;
    return messageNode(doc, clientId ? { ...item.message, onRetry: () => h.retry(clientId) } : item.message, hubOrigin, h.files);
  };

  /** What a new line says to a screen reader: answers and notices, not the visitor's own words, not a partial reply. */
  const speech = (item: TimelineItem): string | null => {
    if (item.kind === "notice") return item.text;
    if (item.kind === "away") return item.back ? `${item.text} ${item.back}` : item.text;
    if (item.kind === "email_left") return emailLeftText(item.email);
    if (item.kind === "email_prompt") return null;
    const { author, text, partial, attachments } = item.message;
    if (author.kind === "visitor" || partial) return null;
    const files = attachments?.map((a) => a.name).join(", ");
    return `${author.kind === "ai" ? "AI assistant" : visitorName(author)}: ${[text, files].filter(Boolean).join(" ")}`;
  };

  /** Renders the lines; returns whether to scroll to the bottom, and what the new lines say. */
  const renderLog = (items: TimelineItem[]): [boolean, string[]] => {
    const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    const seen = new Set<string>();
    const spoken: string[] = [];
    let appended = false;
    items.forEach((item, i) => {
      seen.add(item.key);
      const sig = JSON.stringify(item);
      let line = lines.get(item.key);
      if (line && line.sig !== sig && item.kind === "email_prompt") {
        showPrompt(item.prompt); // the same card, updated: the typed address stays
        line.sig = sig;
      } else if (!line || line.sig !== sig) {
        const node = build(item);
        if (line) line.node.replaceWith(node);
        else {
          const words = speech(item);
          if (words !== null) spoken.push(words);
        }
        line = { sig, node };
        lines.set(item.key, line);
        appended = true;
      }
      if (log.children[i] !== line.node) log.insertBefore(line.node, log.children[i] ?? null);
    });
    for (const [key, line] of lines) {
      if (!seen.has(key)) {
        // The email prompt answered or closed under the focus: the message box takes it.
        const focused = line.node.contains(root.activeElement);
        line.node.remove();
        lines.delete(key);
        if (key === "email-prompt") promptFor = null;
        if (focused && open) input.focus();
      }
    }
    return [appended && nearBottom, spoken];
  };

  // A conversation's first history is on screen at once and not read out; what comes after it
  // (live, or missed while reconnecting) is.
  let listening = false;

  const update = (s: WidgetState) => {
    last = s;
    if (s.open !== open) {
      open = s.open;
      // Closed while focus was inside (by the page's script, say): it goes to the launcher, not the page's body.
      const focused = panel.contains(root.activeElement);
      panel.hidden = !open;
      said.replaceChildren(); // nothing old to read when it shows again
      launcher.setAttribute("aria-expanded", String(open));
      if (open) input.focus();
      else if (focused) launcher.focus(); // after aria-expanded: on a phone the launcher is hidden while open
    }
    badge.hidden = s.unread === 0;
    badge.textContent = s.unread > 9 ? "9+" : String(s.unread);
    // The badge is drawn, not read: the launcher's name carries the count.
    launcher.setAttribute("aria-label", open ? "Close chat" : s.unread ? `Open chat (${badge.textContent} unread)` : "Open chat");
    who.textContent = statusLine(s.control);

    const c = s.connection;
    const line =
      c.status === "connecting" ? "Connecting…"
      : c.status === "reconnecting" ? "Reconnecting…"
      : c.status === "stopped" ? c.text
      : s.notice ?? "";
    connText.textContent = line;
    conn.hidden = line === "";
    retryConn.hidden = !(c.status === "stopped" && !c.fatal);
    // A file still uploading has no id to send yet.
    const uploading = s.files.some((f) => f.status === "uploading");
    sendBtn.disabled = (c.status === "stopped" && c.fatal) || uploading;
    attachBtn.disabled = c.status === "stopped" && c.fatal;
    renderChips(s.files);

    const partial = visiblePartial(s);
    // Thinking until the reply's first words show; then the growing bubble says it all.
    typing.textContent = s.typing.operator
      ? `${visitorName(s.typing.operator)} is typing…`
      : s.typing.ai && !partial
        ? "AI assistant is thinking…"
        : "";

    const offer = canAskForHuman(s);
    const operatorHolds = s.control?.holder.kind === "operator";
    const waitText =
      operatorHolds || offer ? ""
      : s.humanRequest === "asking" ? "Asking for a teammate…"
      : s.humanRequest === "waiting" ? "Waiting for a teammate to join…"
      : "";
    askHuman.hidden = !offer;
    humanState.textContent = waitText;
    human.hidden = !offer && waitText === "";

    const restartable = newConversationControl(s);
    if (restartable !== "shown" || !open) {
      // Gone from under the visitor's focus (the connection dropped, say): focus stays in the chat.
      if (confirming && ask.contains(root.activeElement)) input.focus();
      confirming = false;
    }
    restart.hidden = restartable === "hidden";
    newBtn.hidden = confirming;
    newBtn.disabled = restartable === "disabled";
    ask.hidden = !confirming;
    if (partial) log.setAttribute("aria-busy", "true");
    else log.removeAttribute("aria-busy");

    const items = timeline(s);
    empty.hidden = items.length > 0 || c.status !== "connected";
    const [scroll, spoken] = renderLog(items);
    if (listening && open && spoken.length > 0) said.replaceChildren(...spoken.map((t) => make("p", "", t)));
    listening = s.loaded || s.events.length > 0;
    if (scroll || (open && s.outbox.some((m) => m.status === "sending"))) {
      log.scrollTop = log.scrollHeight;
    }
  };

  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", panel.id);
  return { update, root };
}
