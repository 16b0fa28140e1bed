/**
 * Getting an operator's attention when a conversation starts waiting for a human: a short beep,
 * a desktop notification, and a count in the tab title. Each degrades silently where the browser
 * lacks the API or the operator said no.
 */

const BASE_TITLE = "Take Control";

export function titleFor(waiting: number): string {
  return waiting > 0 ? `(${waiting}) ${BASE_TITLE}` : BASE_TITLE;
}

let audio: AudioContext | null = null;

/**
 * Browsers only let a page start audio after a user gesture; call this from one (the sign-in
 * click, any key or pointer press) so later beeps, which come from socket frames, are audible.
 */
export function primeAudio(): void {
  if (typeof AudioContext === "undefined") return;
  audio ??= new AudioContext();
  if (audio.state === "suspended") void audio.resume();
}

/** Two short tones, loud enough to notice in another tab, short enough not to annoy. */
export function beep(): void {
  if (!audio || audio.state !== "running") return;
  const t0 = audio.currentTime;
  for (const [offset, freq] of [[0, 880], [0.18, 1175]] as const) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t0 + offset);
    gain.gain.exponentialRampToValueAtTime(0.2, t0 + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + offset + 0.15);
    osc.connect(gain).connect(audio.destination);
    osc.start(t0 + offset);
    osc.stop(t0 + offset + 0.16);
  }
}

export type NotifyPermission = NotificationPermission | "unsupported";

export function notificationPermission(): NotifyPermission {
  return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
}

export async function requestNotificationPermission(): Promise<NotifyPermission> {
  if (typeof Notification === "undefined") return "unsupported";
  return Notification.requestPermission();
}

/**
 * A desktop notification; clicking it focuses the dashboard and opens the conversation. `tag`
 * collapses repeated alerts of one kind into one notification instead of a stack.
 */
export function notify(title: string, body: string, onClick: () => void, tag = "take-control-needs-human"): void {
  if (notificationPermission() !== "granted") return;
  const n = new Notification(title, { body, tag });
  n.onclick = () => {
    window.focus();
    onClick();
    n.close();
  };
}
