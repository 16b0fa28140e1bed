//! Workspaces this hub serves, from the workspaces file (and the demo ones in `--dev`).

use std::collections::HashMap;

use protocol::{Plan, WorkspaceInfo};
use serde::Deserialize;

/// An entry of the workspaces file (a JSON array).
#[derive(Debug, Clone, Deserialize)]
pub struct WorkspaceEntry {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    /// Origins (`https://shop.example`) whose pages may open the widget; empty: any.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The workspace's assistant backend; absent: the hub's default (the knowledge file).
    #[serde(default)]
    pub assistant: Option<AssistantConfig>,
    /// Working hours; absent: a request for a human always reaches the team.
    #[serde(default)]
    pub hours: Option<crate::hours::HoursConfig>,
    /// What visitors see when nobody is available, and where a follow-up email links to.
    #[serde(default)]
    pub away: Option<AwayConfig>,
}

/// The `away` entry of a workspace.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwayConfig {
    /// Shown when a human is asked for outside working hours or nobody answered in time.
    #[serde(default)]
    pub message: Option<String>,
    /// Shown under the email prompt.
    #[serde(default)]
    pub email_consent: Option<String>,
    /// The page of the site with the widget that a follow-up email's link opens; absent: the
    /// page the visitor last chatted on.
    #[serde(default)]
    pub chat_url: Option<String>,
}

/// The away message when a workspace sets none.
pub const DEFAULT_AWAY_MESSAGE: &str = "No one from our team is available right now. Leave your email and we'll answer you there; \
     meanwhile the assistant keeps helping you.";
/// The consent text under the email prompt when a workspace sets none.
pub const DEFAULT_EMAIL_CONSENT: &str =
    "We'll use your email address only to answer this conversation.";

/// A workspace's availability: its hours, and what its visitors see when nobody is there.
#[derive(Debug, Clone)]
pub struct Availability {
    pub hours: Option<crate::hours::Hours>,
    pub away: protocol::AwayText,
    pub chat_url: Option<String>,
}

impl Default for Availability {
    fn default() -> Self {
        Availability {
            hours: None,
            away: protocol::AwayText {
                message: DEFAULT_AWAY_MESSAGE.to_owned(),
                email_consent: DEFAULT_EMAIL_CONSENT.to_owned(),
            },
            chat_url: None,
        }
    }
}

impl Availability {
    fn from_entry(
        id: &str,
        hours: Option<&crate::hours::HoursConfig>,
        away: Option<&AwayConfig>,
    ) -> Result<Self, DirectoryError> {
        let mut a = Availability::default();
        if let Some(h) = hours {
            a.hours = Some(
                crate::hours::Hours::parse(h).map_err(|e| DirectoryError(format!("{id}: {e}")))?,
            );
        }
        let away = away.cloned().unwrap_or_default();
        let text = |field: &str, v: Option<String>, max: usize| match v {
            Some(t) if protocol::visible::is_blank(&t) => {
                Err(DirectoryError(format!("{id}: away.{field} is blank")))
            }
            Some(t) if t.chars().count() > max => Err(DirectoryError(format!(
                "{id}: away.{field} is longer than {max} characters"
            ))),
            other => Ok(other),
        };
        if let Some(m) = text("message", away.message, 500)? {
            a.away.message = m;
        }
        if let Some(c) = text("email_consent", away.email_consent, 300)? {
            a.away.email_consent = c;
        }
        if let Some(url) = away.chat_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(DirectoryError(format!(
                    "{id}: away.chat_url must be an http(s) URL"
                )));
            }
            a.chat_url = Some(url);
        }
        Ok(a)
    }

    /// At `at_ms`, outside working hours: `Some(when the team is next at work)`; at work (or
    /// no hours set): `None`.
    pub fn closed_at(&self, at_ms: u64) -> Option<Option<u64>> {
        let hours = self.hours.as_ref()?;
        (!hours.is_open(at_ms)).then(|| hours.opens_at(at_ms))
    }
}

/// Which assistant answers a workspace's visitors.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AssistantConfig {
    /// The embedded assistant with its own knowledge file.
    Knowledge { file: std::path::PathBuf },
    /// An OpenAI-compatible chat-completions server.
    Openai(crate::assistant::openai::OpenAiConfig),
    /// A signed webhook.
    Webhook(crate::assistant::webhook::WebhookConfig),
}

#[derive(Debug, Clone, Default)]
pub struct Directory {
    workspaces: HashMap<String, WorkspaceInfo>,
    allowed_origins: HashMap<String, Vec<String>>,
    assistants: HashMap<String, AssistantConfig>,
    availability: HashMap<String, Availability>,
}

/// Origins compare case-insensitively and without a trailing slash.
fn normalize_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

#[derive(Debug, thiserror::Error)]
#[error("invalid workspaces file: {0}")]
pub struct DirectoryError(pub String);

impl Directory {
    pub fn from_json(json: &str) -> Result<Self, DirectoryError> {
        let entries: Vec<WorkspaceEntry> =
            serde_json::from_str(json).map_err(|e| DirectoryError(e.to_string()))?;
        let mut d = Directory::default();
        for e in entries {
            if !e.allowed_origins.is_empty() {
                let origins = e
                    .allowed_origins
                    .iter()
                    .map(|o| normalize_origin(o))
                    .collect();
                d.allowed_origins.insert(e.id.clone(), origins);
            }
            if let Some(a) = e.assistant {
                d.assistants.insert(e.id.clone(), a);
            }
            if e.hours.is_some() || e.away.is_some() {
                let a = Availability::from_entry(&e.id, e.hours.as_ref(), e.away.as_ref())?;
                d.availability.insert(e.id.clone(), a);
            }
            d.insert(WorkspaceInfo {
                id: e.id,
                name: e.name,
                plan: e.plan,
            });
        }
        Ok(d)
    }

    pub fn insert(&mut self, ws: WorkspaceInfo) {
        self.workspaces.insert(ws.id.clone(), ws);
    }

    pub fn get(&self, id: &str) -> Option<&WorkspaceInfo> {
        self.workspaces.get(id)
    }

    /// May a page of `origin` (the WebSocket's `Origin` header) open this workspace's widget?
    pub fn origin_allowed(&self, workspace_id: &str, origin: Option<&str>) -> bool {
        match self.allowed_origins.get(workspace_id) {
            None => true,
            Some(allowed) => {
                origin.is_some_and(|o| allowed.iter().any(|a| *a == normalize_origin(o)))
            }
        }
    }

    /// When the workspace's team is at work, and what its visitors see when nobody is.
    pub fn availability(&self, workspace_id: &str) -> &Availability {
        static DEFAULT: std::sync::OnceLock<Availability> = std::sync::OnceLock::new();
        self.availability
            .get(workspace_id)
            .unwrap_or_else(|| DEFAULT.get_or_init(Availability::default))
    }

    /// Set a workspace's availability (the demo workspaces of `--dev`; tests).
    pub fn set_availability(&mut self, workspace_id: &str, availability: Availability) {
        self.availability
            .insert(workspace_id.to_owned(), availability);
    }

    /// The workspaces with their own assistant backend.
    pub fn assistants(&self) -> impl Iterator<Item = (&str, &AssistantConfig)> {
        self.assistants.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.workspaces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workspaces.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(extra: &str) -> Result<Directory, DirectoryError> {
        Directory::from_json(&format!(
            r#"[{{"id": "acme", "name": "Acme", "plan": "pro"{extra}}}]"#
        ))
    }

    #[test]
    fn without_hours_the_team_is_always_there_and_the_defaults_are_shown() {
        let d = one("").expect("valid");
        let a = d.availability("acme");
        assert_eq!(a.closed_at(1_796_634_191_639), None);
        assert_eq!(a.away.message, DEFAULT_AWAY_MESSAGE);
        assert_eq!(a.away.email_consent, DEFAULT_EMAIL_CONSENT);
        assert!(
            std::ptr::eq(a, d.availability("unknown")),
            "one shared default"
        );
    }

    #[test]
    fn hours_and_away_texts_are_read_per_workspace() {
        let d = one(
            r#", "hours": {"time_zone": "UTC", "weekly": {"mon": "09:00-17:00"}},
                 "away": {"message": "Back Monday.", "chat_url": "https://acme.example/help"}"#,
        )
        .expect("valid");
        let a = d.availability("acme");
        // Sunday 2026-12-06 12:00 UTC: closed, opens Monday 09:00 UTC.
        assert_eq!(
            a.closed_at(1_796_558_400_000),
            Some(Some(1_796_634_000_000))
        );
        assert_eq!(a.closed_at(1_796_634_000_000), None, "Monday 09:00");
        assert_eq!(a.away.message, "Back Monday.");
        assert_eq!(a.away.email_consent, DEFAULT_EMAIL_CONSENT);
        assert_eq!(a.chat_url.as_deref(), Some("https://acme.example/help"));
    }

    #[test]
    fn bad_settings_name_the_workspace_and_the_fault() {
        for (extra, fault) in [
            (
                r#", "hours": {"time_zone": "Nowhere/Land", "weekly": {}}"#,
                "acme: hours: unknown time zone",
            ),
            (
                r#", "away": {"message": "   "}"#,
                "acme: away.message is blank",
            ),
            (
                r#", "away": {"chat_url": "javascript:alert(1)"}"#,
                "acme: away.chat_url must be an http(s) URL",
            ),
            (r#", "away": {"colour": "red"}"#, "unknown field"),
        ] {
            let e = one(extra).expect_err(extra).to_string();
            assert!(e.contains(fault), "{e}");
        }
        let long = format!(r#", "away": {{"email_consent": "{}"}}"#, "x".repeat(301));
        assert!(
            one(&long)
                .expect_err("long")
                .to_string()
                .contains("longer than 300")
        );
    }
}
