//! A client that stops reading is cut off once its bounded queue overflows: it cannot pin its
//! session or grow the hub's memory, and nobody else notices.

mod common;

use common::{TestHub, Visitor};
use protocol::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_is_closed_and_others_carry_on() {
    let mut config = hub::Config::for_tests();
    config.outbound_queue = 8;
    let th = TestHub::with(config, None).await;

    // The stalled visitor: after the handshake, this test never reads its socket again.
    let stalled = Visitor::connect(th.addr(), "demo-pro", None, None).await;
    let cid = stalled.conversation_id.clone();
    let mut martin = th.operator("martin", Role::Operator).await;
    assert_eq!(martin.takeover(&cid).await["type"], "control");

    // Flood the conversation with large messages until the hub gives up on the stalled reader:
    // first the socket buffers fill, then its 8-frame queue, then it is kicked.
    let text = "x".repeat(protocol::limits::MAX_MESSAGE_CHARS);
    let mut sent = 0;
    while th.hub().metrics().snapshot().slow_closes == 0 {
        sent += 1;
        assert!(sent <= 20_000, "never cut off");
        let ack = martin.say(&cid, &format!("o{sent}"), &text).await;
        assert_eq!(
            ack["type"], "ack",
            "the operator is never slowed down: {ack}"
        );
    }
    // Its session ends (the write it was stuck in is abandoned) and it leaves the registry.
    tokio::time::timeout(
        common::WAIT,
        th.hub().metrics().wait_until(|m| m.sessions_closed >= 1),
    )
    .await
    .expect("the stalled session ends");
    assert_eq!(th.hub().connection_counts(), (0, 1));
    // Everything sent is stored, for the visitor to resume from when it reconnects.
    let resumed = Visitor::connect(th.addr(), "demo-pro", Some(&stalled.token), Some(1)).await;
    let events = resumed.history["events"].as_array().expect("events").len();
    assert_eq!(events, sent, "every message is in the history");
    println!("stalled reader: cut off after {sent} messages of 4,000 chars; {events} resumable");
    drop(stalled);
}
