//! When nobody is available, over real sockets: working hours and the away message, the email
//! prompt, the follow-up list, and the email of an operator's answer through a real SMTP
//! server (aiosmtpd, started by the test support) with the link that reopens the chat.

mod common;

use common::{Client, TestHub, Visitor, tempfile_lite};
use hub::Config;
use protocol::{PROTOCOL_VERSION, Role};
use serde_json::{Value, json};
use testkit::SmtpServer;

/// A hub whose `acme` workspace (Pro) has the given `hours` and `away` settings.
async fn acme(
    hours: Value,
    away: Value,
    tweak: impl FnOnce(&mut Config),
) -> (TestHub, tempfile_lite::File) {
    let file = tempfile_lite::File::new(
        &json!([{"id": "acme", "name": "Acme", "plan": "pro", "hours": hours, "away": away}])
            .to_string(),
    );
    let mut config = Config::for_tests();
    config.workspaces = Some(file.path.clone());
    tweak(&mut config);
    (TestHub::with(config, None).await, file)
}

/// `YYYY-MM-DD` of the UTC day `days` from today.
fn utc_day(days: i64) -> String {
    let secs = hub::util::now_secs() as i64 + days * 86_400;
    let z = jiff::Timestamp::from_second(secs)
        .expect("now")
        .to_zoned_datetime(jiff::tz::TimeZone::UTC);
    z.date().to_string()
}

/// A widget of `workspace` whose visitor is on `url`.
async fn visitor_on(th: &TestHub, workspace: &str, url: &str) -> Visitor {
    let mut client = Client::connect(th.addr(), "/ws/widget").await;
    client
        .send(
            json!({"type": "hello", "protocol": PROTOCOL_VERSION, "workspace_id": workspace,
                     "context": {"url": url}}),
        )
        .await;
    let welcome = client.until_type("welcome").await;
    let history = client.until_type("history").await;
    Visitor {
        conversation_id: welcome["conversation_id"].as_str().expect("id").to_owned(),
        token: welcome["visitor_token"].as_str().expect("token").to_owned(),
        client,
        welcome,
        history,
    }
}

fn follow_up_of<'v>(frame: &'v Value, id: &str) -> Option<&'v Value> {
    (frame["type"] == "follow_up" && frame["conversation_id"] == id).then(|| &frame["follow_up"])
}

#[tokio::test]
async fn outside_working_hours_the_visitor_gets_the_away_message_and_the_team_a_follow_up() {
    // Open all day, every day, but today and tomorrow are holidays (UTC): closed now, whatever
    // the hour the test runs at, and open again the day after tomorrow at midnight.
    let hours = json!({"time_zone": "UTC", "weekly": {"mon-sun": "00:00-24:00"},
                       "holidays": [utc_day(0), utc_day(1)]});
    let away = json!({"message": "We're closed for the holidays.",
                      "email_consent": "We use it only to answer you."});
    let (th, _file) = acme(hours, away, |_| {}).await;
    let mut nora = th.operator_in("nora", "acme", Role::Operator).await;
    nora.send(json!({"type": "subscribe_online"})).await;
    nora.until_type("online_view").await;
    nora.send(json!({"type": "follow_ups"})).await;
    let empty = nora.until_type("follow_ups").await;
    assert_eq!(empty["conversations"], json!([]));

    let mut v = Visitor::connect(th.addr(), "acme", None, None).await;
    assert_eq!(
        v.welcome["away"]["message"],
        "We're closed for the holidays."
    );
    assert_eq!(
        v.welcome["away"]["email_consent"],
        "We use it only to answer you."
    );
    let id = v.conversation_id.clone();

    v.client.send(json!({"type": "request_human"})).await;
    let e = v.client.until_event("outside_hours").await;
    let opens = jiff::Timestamp::from_millisecond(e["opens_at"].as_i64().expect("opens_at"))
        .expect("ms")
        .to_zoned_datetime(jiff::tz::TimeZone::UTC);
    assert_eq!(opens.date().to_string(), utc_day(2));
    assert_eq!((opens.hour(), opens.minute()), (0, 0));
    assert_eq!(e["by"], "visitor");
    let f = nora.until(|f| follow_up_of(f, &id).is_some()).await;
    assert_eq!(f["follow_up"]["reason"], "outside_hours");
    assert_eq!(f["follow_up"]["waiting"], true);

    // A second click is told nothing new; a bad address is refused; a good one is kept.
    v.client.send(json!({"type": "request_human"})).await;
    v.client
        .send(json!({"type": "follow_up_email", "email": "ana at example"}))
        .await;
    let refused = v.client.until_type("error").await;
    assert_eq!(refused["code"], "invalid_email");
    v.client
        .send(json!({"type": "follow_up_email", "email": "ana@example.com"}))
        .await;
    let left = v.client.until_event("follow_up_email").await;
    assert_eq!(left["email"], "ana@example.com");
    let f = nora
        .until(|f| follow_up_of(f, &id).is_some_and(|f| f["email"] == "ana@example.com"))
        .await;
    assert_eq!(f["follow_up"]["waiting"], true);

    nora.send(json!({"type": "follow_ups"})).await;
    let list = nora.until_type("follow_ups").await;
    let rows = list["conversations"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["conversation"]["id"], id.as_str());
    assert_eq!(rows[0]["follow_up"]["email"], "ana@example.com");
    let history = nora.open(&id).await;
    let kinds = common::event_kinds(&history["events"]);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| k.starts_with("outside_hours"))
            .count(),
        1,
        "{kinds:?}"
    );
    assert!(
        !kinds.iter().any(|k| k.starts_with("human_requested")),
        "nobody was alerted: {kinds:?}"
    );
    assert_eq!(history["follow_up"]["email"], "ana@example.com");

    // An operator's message takes it off the list (the visitor is here: no email).
    nora.takeover(&id).await;
    nora.say(&id, "o-1", "Hello Ana, we're here after all.")
        .await;
    let f = nora
        .until(|f| follow_up_of(f, &id).is_some_and(|f| f["waiting"] == false))
        .await;
    assert!(f["follow_up"].get("delivery").is_none(), "{f}");
}

#[tokio::test]
async fn an_email_is_refused_unless_the_conversation_waits_for_follow_up() {
    let th = TestHub::start().await;
    let mut v = th.visitor().await;
    v.client
        .send(json!({"type": "follow_up_email", "email": "ana@example.com"}))
        .await;
    let refused = v.client.until_type("error").await;
    assert_eq!(refused["code"], "no_follow_up");
    assert_eq!(
        v.welcome["away"]["message"],
        hub::directory::DEFAULT_AWAY_MESSAGE
    );
}

/// The whole path: nobody answers in time, the visitor leaves an address and goes; the
/// operator's answer is emailed once, through a real SMTP server, with a link that resumes the
/// conversation as that visitor; answers while the visitor is back are not emailed.
#[tokio::test]
async fn an_answer_to_a_visitor_who_has_gone_is_emailed_with_a_link_that_reopens_the_chat() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let (th, _file) = acme(json!(null), json!({}), |c| {
        c.smtp_url = Some(url);
        c.smtp_from = "help@acme.example".into();
        c.follow_up_delay_ms = 0;
        c.human_wait_ms = 300;
    })
    .await;
    let mut nora = th.operator_in("nora", "acme", Role::Operator).await;
    nora.send(json!({"type": "subscribe_online"})).await;
    nora.until_type("online_view").await;

    let mut v = visitor_on(&th, "acme", "https://shop.example/help?from=nav#faq").await;
    let id = v.conversation_id.clone();
    v.say("w-1", "My parcel never came").await;
    v.client.send(json!({"type": "request_human"})).await;
    v.client.until_event("human_request_expired").await;
    v.client
        .send(json!({"type": "follow_up_email", "email": "ana@example.com"}))
        .await;
    v.client.until_event("follow_up_email").await;
    nora.until(|f| {
        follow_up_of(f, &id)
            .is_some_and(|f| f["reason"] == "unanswered" && f["email"] == "ana@example.com")
    })
    .await;
    v.client.close().await;
    nora.until_row(|r| r["id"] == id.as_str() && r["visitor_online"] == false)
        .await;

    nora.takeover(&id).await;
    nora.say(&id, "o-1", "Sorry Ana! A new parcel left today.")
        .await;
    nora.say(&id, "o-2", "Tracking: 1Z999.").await;
    let sent = nora
        .until(|f| follow_up_of(f, &id).is_some_and(|f| f["delivery"]["state"] == "sent"))
        .await;
    assert_eq!(sent["follow_up"]["waiting"], false);
    let mails = smtp.until_messages(1).await;
    let mail = &mails[0];
    assert!(mail.contains("To: ana@example.com"), "{mail}");
    assert!(mail.contains("From: Acme <help@acme.example>"), "{mail}");
    assert!(
        mail.contains("Subject: Acme answered your message"),
        "{mail}"
    );
    assert!(
        mail.contains("Sorry Ana! A new parcel left today."),
        "{mail}"
    );
    let link_at = mail
        .find("https://shop.example/help?from=nav#tc-reopen=")
        .unwrap_or_else(|| panic!("no reopen link: {mail}"));
    let token: String = mail[link_at..]
        .split_once("tc-reopen=")
        .expect("fragment")
        .1
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();

    // The link resumes the conversation as that visitor, with the answers in it.
    let back = Visitor::connect(th.addr(), "acme", Some(&token), None).await;
    assert_eq!(back.conversation_id, id);
    let texts: Vec<&str> = back.history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert!(texts.contains(&"Tracking: 1Z999."), "{texts:?}");

    // Written while the visitor is back: seen in the chat, not emailed. Written after they
    // left again: the next email holds that one alone.
    nora.until_row(|r| r["id"] == id.as_str() && r["visitor_online"] == true)
        .await;
    nora.say(&id, "o-3", "Glad you're back.").await;
    back.client.close().await;
    nora.until_row(|r| r["id"] == id.as_str() && r["visitor_online"] == false)
        .await;
    nora.say(&id, "o-4", "One more thing: keep the box.").await;
    let mails = smtp.until_messages(2).await;
    assert!(mails[1].contains("keep the box"), "{}", mails[1]);
    assert!(!mails[1].contains("Glad you're back"), "{}", mails[1]);
    assert!(!mails[1].contains("Tracking"), "sent once: {}", mails[1]);
}

/// A mail server that is down: the failure is shown to the team and retried with backoff,
/// and the email goes once the server is back.
#[tokio::test]
async fn a_mail_server_that_is_down_is_retried_until_it_takes_the_email() {
    let port = SmtpServer::free_port();
    let (th, _file) = acme(
        json!(null),
        json!({"chat_url": "https://acme.example/chat"}),
        |c| {
            c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
            c.follow_up_delay_ms = 0;
            c.smtp_retry_ms = 200;
            c.human_wait_ms = 300;
        },
    )
    .await;
    let mut nora = th.operator_in("nora", "acme", Role::Operator).await;
    nora.send(json!({"type": "subscribe_online"})).await;
    nora.until_type("online_view").await;
    let mut v = Visitor::connect(th.addr(), "acme", None, None).await;
    let id = v.conversation_id.clone();
    v.client.send(json!({"type": "request_human"})).await;
    v.client.until_event("human_request_expired").await;
    v.client
        .send(json!({"type": "follow_up_email", "email": "ana@example.com"}))
        .await;
    v.client.until_event("follow_up_email").await;
    v.client.close().await;
    nora.until_row(|r| r["id"] == id.as_str() && r["visitor_online"] == false)
        .await;
    nora.takeover(&id).await;
    nora.say(&id, "o-1", "Here is your answer.").await;

    let retrying = nora
        .until(|f| follow_up_of(f, &id).is_some_and(|f| f["delivery"]["state"] == "retrying"))
        .await;
    let d = &retrying["follow_up"]["delivery"];
    assert_eq!(d["attempts"], 1);
    assert!(!d["error"].as_str().expect("error").is_empty(), "{d}");
    let smtp = SmtpServer::start_on(port).await;
    nora.until(|f| follow_up_of(f, &id).is_some_and(|f| f["delivery"]["state"] == "sent"))
        .await;
    let mails = smtp.until_messages(1).await;
    assert!(
        mails[0].contains("https://acme.example/chat#tc-reopen="),
        "{}",
        mails[0]
    );
    assert_eq!(mails.len(), 1);
    let m = th.hub().metrics().snapshot();
    assert!(m.emails_retrying >= 1 && m.emails_sent == 1, "{m:?}");
}
