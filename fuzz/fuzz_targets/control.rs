//! Random sequences of takeovers, releases, automatic releases and appends against the control
//! rules (the same source file the hub compiles), checking the invariants every store relies on:
//! one holder at a time, the epoch moves on every change of holder and never back, an AI reply
//! started before a takeover is never accepted after it, only the holder writes, and an automatic
//! release never touches a newer holding.
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
            } => {
                let actor = Actor {
                    operator: operator(*who),
                    role: role(*r),
                };
                control::release(&state, &actor, *force).ok()
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
            assert_ne!(
                std::mem::discriminant(&next.holder),
                std::mem::discriminant(&before.holder),
                "control goes AI → operator → AI, never operator → operator"
            );
            if matches!(next.holder, Holder::Operator(_)) {
                last_takeover_epoch = next.epoch;
            }
            state = next;
        }
        assert!(state.epoch >= before.epoch, "the epoch never goes back");
        let _: &ControlState = &state;
    }
});
