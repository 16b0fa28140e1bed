//! The team's and the profiles' parts of the conformance suite: presence, holdings and the
//! audit log; profiles and avatars per workspace. The same on every store and topology.

use std::sync::Arc;

use protocol::Role;

use super::conformance::{new, op};
use super::*;

pub async fn team_presence_and_audit(store: Arc<dyn Store>) {
    let actor = |id: &str, role| AuditActor {
        id: id.into(),
        name: id.to_uppercase(),
        role,
    };
    let (a, b) = (actor("a", Role::Operator), actor("b", Role::Editor));
    assert!(store.team("ws", 0).await.expect("team").is_empty());
    store
        .operator_presence("ws", &a, 1, 100)
        .await
        .expect("presence");
    store
        .operator_presence("ws", &a, 1, 100)
        .await
        .expect("presence");
    store
        .operator_presence("ws", &b, 1, 100)
        .await
        .expect("presence");
    store
        .operator_presence("ws", &b, -1, 110)
        .await
        .expect("presence");
    new(&*store, "t1").await;
    store
        .takeover("ws", "t1", &op("a"), 120)
        .await
        .expect("takeover");
    let team = store.team("ws", 50).await.expect("team");
    let view: Vec<_> = team
        .iter()
        .map(|m| (m.id.as_str(), m.online, m.holding.len()))
        .collect();
    assert_eq!(view, [("a", true, 1), ("b", false, 0)]);
    assert_eq!(team[0].holding[0].conversation_id, "t1");
    assert_eq!(team[0].holding[0].since, 120);
    // Colleagues: who is online, without holdings (b's one socket closed).
    let online = store.colleagues("ws", 50).await.expect("colleagues");
    assert_eq!(
        online,
        [protocol::Colleague {
            id: "a".into(),
            name: "A".into(),
            role: Role::Operator,
        }]
    );
    assert!(
        store
            .colleagues("ws", 1_000)
            .await
            .expect("colleagues")
            .is_empty()
    );
    assert!(
        store
            .colleagues("other", 0)
            .await
            .expect("colleagues")
            .is_empty()
    );
    // One of a's two sockets closes: still online. Seen too long ago: offline.
    store
        .operator_presence("ws", &a, -1, 130)
        .await
        .expect("presence");
    assert!(store.team("ws", 50).await.expect("team")[0].online);
    assert!(!store.team("ws", 1_000).await.expect("team")[0].online);
    assert!(store.team("other", 0).await.expect("team").is_empty());

    for i in 0..3u64 {
        let entry = AuditEntry {
            at: 200 + i,
            actor: Some(a.clone()),
            action: protocol::AuditAction::Takeover,
            conversation_id: Some(format!("c{i}")),
            reason: None,
            holder_id: None,
            to: None,
        };
        store.record_audit("ws", &entry).await.expect("audit");
    }
    let log = store.audit("ws", 2).await.expect("audit");
    assert_eq!(log.iter().map(|e| e.at).collect::<Vec<_>>(), [201, 202]);
    assert!(store.audit("other", 10).await.expect("audit").is_empty());
}

pub async fn profiles_and_avatars_per_workspace(store: Arc<dyn Store>) {
    use crate::profile::OperatorProfile;
    assert_eq!(store.profile("ws", "a").await.expect("profile"), None);
    let p = OperatorProfile {
        display_name: Some("Martin from Support 🛠️".into()),
        avatar_url: Some("/avatars/ws/abc.png".into()),
        updated_at: 10,
    };
    store.save_profile("ws", "a", &p).await.expect("save");
    assert_eq!(store.profile("ws", "a").await.expect("profile"), Some(p));
    let cleared = OperatorProfile {
        display_name: None,
        avatar_url: None,
        updated_at: 11,
    };
    store.save_profile("ws", "a", &cleared).await.expect("save");
    assert_eq!(
        store.profile("ws", "a").await.expect("profile"),
        Some(cleared),
        "a save replaces the whole profile"
    );
    assert_eq!(
        store.profile("other", "a").await.expect("profile"),
        None,
        "operator ids are per workspace"
    );

    let png = vec![0x89, b'P', b'N', b'G', 0, 255, 7];
    store.put_avatar("ws", "h1", &png).await.expect("put");
    store.put_avatar("ws", "h1", &png).await.expect("put again");
    assert_eq!(store.avatar("ws", "h1").await.expect("get"), Some(png));
    assert_eq!(store.avatar("other", "h1").await.expect("get"), None);
    assert_eq!(store.avatar("ws", "h2").await.expect("get"), None);
}
