//! Follow-up emails: an operator's answer, for a visitor who left their address and has gone,
//! written as a plain-text email and sent over SMTP (`lettre`). What is sent when, and only
//! once across nodes, is the store's business (`store::follow_up`); this is the wording and the
//! wire.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Tokio1Executor};

/// Why an email was not sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MailError {
    /// It may pass: the server was unreachable, timed out, or answered "try later" (4xx).
    #[error("{0}")]
    Transient(String),
    /// It will not pass: the server refused the address or the message (5xx), or the address
    /// does not parse.
    #[error("{0}")]
    Permanent(String),
}

/// One email of operators' answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    /// Shown as the sender's name (the workspace's name).
    pub from_name: String,
    pub subject: String,
    pub body: String,
    /// The same for every try of the same email, so a receiver can tell a resend.
    pub message_id: String,
}

/// An SMTP client (`--smtp-url`), with the sender address (`--smtp-from`).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.email.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// `url`: `smtp://host:port` (plain, or `?tls=required` for STARTTLS), `smtps://host:port`
    /// (TLS from the start), with `user:password@` when the server wants a login.
    pub fn new(url: &str, from: &str, timeout: Duration) -> Result<Mailer, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("--smtp-from `{from}`: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("--smtp-url: {e}"))?
            .timeout(Some(timeout))
            .build();
        Ok(Mailer { transport, from })
    }

    /// The domain of the sender's address (for `Message-ID`s).
    pub fn domain(&self) -> String {
        self.from.email.domain().to_owned()
    }

    pub async fn send(&self, email: &Email) -> Result<(), MailError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|e| MailError::Permanent(format!("address `{}`: {e}", email.to)))?;
        let from = Mailbox::new(Some(email.from_name.clone()), self.from.email.clone());
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(&email.subject)
            .message_id(Some(email.message_id.clone()))
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.clone())
            .map_err(|e| MailError::Permanent(format!("message: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(MailError::Permanent(e.to_string())),
            Err(e) => Err(MailError::Transient(e.to_string())),
        }
    }
}

/// One operator message of an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// How visitors see the operator ("Martin from Support", or "Human").
    pub author: String,
    pub text: String,
    pub files: Vec<String>,
}

/// The link that reopens the conversation: `page` (the workspace's chat page, or where the
/// visitor last chatted) with the visitor's token in the fragment, which never reaches the
/// site's server (the widget reads it and removes it from the address bar).
pub fn reopen_link(page: &str, visitor_token: &str) -> String {
    let base = page.split('#').next().unwrap_or(page);
    format!("{base}#tc-reopen={visitor_token}")
}

/// The subject and plain-text body of an email of `answers` from `workspace`.
pub fn compose(workspace: &str, answers: &[Answer], link: Option<&str>) -> (String, String) {
    let subject = format!("{workspace} answered your message");
    let mut body = String::from(
        "Hello,\n\nYou asked for someone from our team in the chat on our website, and nobody \
         was available then. Here is our answer:\n",
    );
    for a in answers {
        body.push_str(&format!("\n{}:\n", a.author));
        for line in a.text.lines() {
            body.push_str("  ");
            body.push_str(line);
            body.push('\n');
        }
        for f in &a.files {
            body.push_str(&format!("  [Attached: {f}, in the chat]\n"));
        }
    }
    if let Some(link) = link {
        body.push_str(&format!(
            "\nContinue the conversation in the chat:\n{link}\n"
        ));
    }
    body.push_str(&format!(
        "\n{workspace}\n\nYou receive this email because you left this address in our chat \
         for an answer. Replies to it are not read.\n"
    ));
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_carries_the_token_in_the_fragment_only() {
        assert_eq!(
            reopen_link("https://shop.example/help?x=1#top", "eyJ.a.b"),
            "https://shop.example/help?x=1#tc-reopen=eyJ.a.b"
        );
        assert_eq!(
            reopen_link("https://shop.example/", "t"),
            "https://shop.example/#tc-reopen=t"
        );
    }

    #[test]
    fn an_email_quotes_each_answer_with_its_author_files_and_the_link() {
        let answers = [
            Answer {
                author: "Martin from Support".into(),
                text: "Your refund is on its way.\nIt takes 3 days.".into(),
                files: vec!["label.pdf".into()],
            },
            Answer {
                author: "Martin from Support".into(),
                text: "Anything else?".into(),
                files: vec![],
            },
        ];
        let (subject, body) = compose("Acme", &answers, Some("https://x.example/#tc-reopen=t"));
        assert_eq!(subject, "Acme answered your message");
        assert!(body.contains(
            "Martin from Support:\n  Your refund is on its way.\n  It takes 3 days.\n  [Attached: label.pdf, in the chat]\n"
        ));
        assert!(body.contains("Anything else?"));
        assert!(body.contains("https://x.example/#tc-reopen=t"));
    }

    /// (The transport's connection pool lives on the runtime, as in the hub.)
    #[tokio::test]
    async fn bad_settings_are_refused_at_start() {
        let t = Duration::from_secs(1);
        assert!(Mailer::new("smtp://127.0.0.1:25", "not an address", t).is_err());
        assert!(Mailer::new("ftp://x", "a@b.co", t).is_err());
        let m = Mailer::new("smtp://127.0.0.1:25", "Support <help@acme.example>", t).expect("ok");
        assert_eq!(m.domain(), "acme.example");
    }
}
