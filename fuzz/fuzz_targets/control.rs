//! Random sequences of takeovers, releases, transfers, automatic releases and appends against
//! the control rules (the same source file the hub compiles), checking the invariants every
//! store relies on: one holder at a time, the epoch moves on every change of holder and never
//! back, an AI reply started before a takeover is never accepted after it (a transfer included:
//! the AI never holds it in between), only the holder writes, a change under a stale epoch never
//! applies, and an automatic release never touches a newer holding.
#![no_main]

#[path = "../../hub/src/control.rs"]
#[allow(dead_code)]
mod control;

use arbitrary::Arbitrary;
use control::{Actor, Transition, Writer};
use libfuzzer_sys::fuzz_target;
use protocol::{ControlState, Holder, OperatorRef, ReleaseReason, Role};

#[derive(Debug, Arbitrary)]
enum Op {
    Takeover(u8),
    Release {
        who: u8,
        force: bool,
        role: u8,
        /// The epoch the actor saw, this many epochs back (`None`: not said).
        seen_back: Option<u8>,
    },
    Transfer {
        who: u8,
        role: u8,
        to: u8,
        seen_back: u8,
    },
    AutoRelease {
        who: u8,
        epoch_back: u8,
        idle: bool,
    },
    /// An AI reply started `epoch_back` epochs ago.
    AiAppend {
        epoch_back: u8,
    },
    OperatorAppend(u8),
}

fn operator(i: u8) -> OperatorRef {
    OperatorRef {
        id: format!("op{}", i % 4),
        name: format!("Operator {}", i % 4),
        display_name: None,
        avatar_url: None,
    }
}

fn role(i: u8) -> Role {
    match i % 3 {
        0 => Role::Owner,
        1 => Role::Editor,
        _ => Role::Operator,
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut state = control::initial();
    // The epoch of the last takeover: AI replies started before it must stay fenced off.
    let mut last_takeover_epoch = 0u64;
    for op in ops {
        let before = state.clone();
        let result = match &op {
            Op::Takeover(i) => control::takeover(&state, &operator(*i)).ok(),
            Op::Release {
                who,
                force,
                role: r,
                seen_back,
            } => {
                let actor = Actor {
                    operator: operator(*who),
                    role: role(*r),
                };
                let seen = seen_back.map(|b| state.epoch.saturating_sub(u64::from(b)));
                let t = control::release(&state, &actor, *force, seen).ok();
                if t.is_some() && seen.is_some() {
                    assert_eq!(seen, Some(state.epoch), "a release under a stale epoch applied");
                }
                t
            }
            Op::Transfer {
                who,
                role: r,
                to,
                seen_back,
            } => {
                let actor = Actor {
                    operator: operator(*who),
                    role: role(*r),
                };
                let seen = state.epoch.saturating_sub(u64::from(*seen_back));
                let t = control::transfer(&state, &actor, &operator(*to), seen).ok();
                if let Some(Transition::Changed { state: next, .. }) = &t {
                    assert_eq!(seen, state.epoch, "a transfer under a stale epoch applied");
                    let Holder::Operator(from) = &state.holder else {
                        panic!("a transfer of a conversation the AI held");
                    };
                    assert!(
                        matches!(&next.holder, Holder::Operator(n) if n.id != from.id && n.id != actor.operator.id),
                        "a transfer to the holder or to oneself"
                    );
                    assert!(
                        from.id == actor.operator.id || actor.role.may_force_release(),
                        "a transfer by someone who may not"
                    );
                }
                t
            }
            Op::AutoRelease {
                who,
                epoch_back,
                idle,
            } => {
                let reason = if *idle {
                    ReleaseReason::Idle
                } else {
                    ReleaseReason::Disconnected
                };
                let epoch = state.epoch.saturating_sub(u64::from(*epoch_back));
                let t = control::auto_release(&state, &operator(*who).id, epoch, reason);
                if let Transition::Changed { .. } = &t {
                    // Only the exact current holding is ever released.
                    assert_eq!(epoch, state.epoch);
                    assert!(
                        matches!(&state.holder, Holder::Operator(h) if h.id == operator(*who).id)
                    );
                }
                Some(t)
            }
            Op::AiAppend { epoch_back } => {
                let epoch = state.epoch.saturating_sub(u64::from(*epoch_back));
                let ok = control::may_append(&state, &Writer::Ai { epoch }).is_ok();
                if ok {
                    assert!(matches!(state.holder, Holder::Ai));
                    assert_eq!(epoch, state.epoch);
                    assert!(
                        epoch >= last_takeover_epoch,
                        "an AI reply crossed a takeover"
                    );
                }
                None
            }
            Op::OperatorAppend(i) => {
                let who = operator(*i);
                let ok = control::may_append(&state, &Writer::Operator(who.id.clone())).is_ok();
                assert_eq!(
                    ok,
                    matches!(&state.holder, Holder::Operator(h) if h.id == who.id),
                    "only the holder writes"
                );
                None
            }
        };
        if let Some(Transition::Changed { state: next, .. }) = result {
            assert_eq!(
                next.epoch,
                before.epoch + 1,
                "every change of holder bumps the epoch"
            );
            if !matches!(op, Op::Transfer { .. }) {
                assert_ne!(
                    std::mem::discriminant(&next.holder),
                    std::mem::discriminant(&before.holder),
                    "control goes AI → operator → AI; only a transfer goes operator → operator"
                );
            }
            if matches!(next.holder, Holder::Operator(_)) {
                last_takeover_epoch = next.epoch;
            }
            state = next;
        }
        assert!(state.epoch >= before.epoch, "the epoch never goes back");
        let _: &ControlState = &state;
    }
});
