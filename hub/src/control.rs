//! The conversation control rules, and nothing else: who may take, release, and write.
//!
//! Pure functions over [`ControlState`]. Every store backend (memory now, Redis later) applies
//! exactly these rules inside one atomic step, so the rules are tested once, here, exhaustively.
//!
//! - The AI holds control by default.
//! - `takeover` succeeds only while the AI holds it; the same operator taking over again is a no-op.
//! - `release` by the holder, or with `force` by an owner or editor.
//! - Every change of holder bumps the epoch.
//! - An AI reply may be appended only if it was started under the current epoch and the AI still
//!   holds control: a reply that was being generated when an operator took over is fenced off.

use protocol::{
    ControlState, ErrorCode, EventKind, Holder, OperatorId, OperatorRef, Plan, ReleaseReason, Role,
};

/// Why a control step or an append was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("Take Control needs the Pro or Business plan")]
    PlanRequired,
    #[error("{} is already handling this conversation", .0.name)]
    AlreadyControlled(OperatorRef),
    #[error("the AI assistant is handling this conversation")]
    NotControlled,
    #[error("you are not handling this conversation")]
    NotHolder,
    #[error("only owners and editors can force-release")]
    RoleRequired,
    /// An AI reply started under an older epoch, or while an operator holds control.
    #[error("the AI reply was started before a change of control")]
    StaleEpoch,
}

impl ControlError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::PlanRequired => ErrorCode::PlanRequired,
            Self::AlreadyControlled(_) => ErrorCode::AlreadyControlled,
            Self::NotControlled => ErrorCode::NotControlled,
            Self::NotHolder => ErrorCode::NotHolder,
            Self::RoleRequired => ErrorCode::RoleRequired,
            // Never reaches a client: the hub drops fenced AI replies and counts them.
            Self::StaleEpoch => ErrorCode::NotControlled,
        }
    }
}

/// Who is acting on a conversation's control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub operator: OperatorRef,
    pub role: Role,
}

/// The result of an accepted control step.
// Built once per control step and consumed at once: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// Already in the requested state (the holder taking over again): nothing to record.
    Unchanged,
    /// The new state and the event that records the change.
    Changed {
        state: ControlState,
        event: EventKind,
    },
}

/// Who writes an append, and so what it must prove about control before it is accepted (the
/// store's fence, [`may_append`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writer {
    /// Visitors may always write.
    Visitor,
    /// The AI, for a reply started under `epoch`.
    Ai { epoch: u64 },
    /// An operator, who must hold control.
    Operator(OperatorId),
}

pub fn initial() -> ControlState {
    ControlState {
        holder: Holder::Ai,
        epoch: 0,
    }
}

pub fn check_plan(plan: Plan) -> Result<(), ControlError> {
    if plan.has_take_control() {
        Ok(())
    } else {
        Err(ControlError::PlanRequired)
    }
}

pub fn takeover(state: &ControlState, operator: &OperatorRef) -> Result<Transition, ControlError> {
    match &state.holder {
        Holder::Ai => {
            let epoch = state.epoch + 1;
            Ok(Transition::Changed {
                state: ControlState {
                    holder: Holder::Operator(operator.clone()),
                    epoch,
                },
                event: EventKind::OperatorJoined {
                    operator: operator.clone(),
                    epoch,
                },
            })
        }
        // A re-sent takeover (e.g. after a reconnect) must not record a second "joined".
        Holder::Operator(holder) if holder.id == operator.id => Ok(Transition::Unchanged),
        Holder::Operator(holder) => Err(ControlError::AlreadyControlled(holder.clone())),
    }
}

/// `release` (End) by the holder, or a force-release by an owner or editor.
pub fn release(
    state: &ControlState,
    actor: &Actor,
    force: bool,
) -> Result<Transition, ControlError> {
    let Holder::Operator(holder) = &state.holder else {
        return Err(ControlError::NotControlled);
    };
    let (reason, by) = if holder.id == actor.operator.id {
        (ReleaseReason::Ended, None)
    } else if !force {
        return Err(ControlError::NotHolder);
    } else if !actor.role.may_force_release() {
        return Err(ControlError::RoleRequired);
    } else {
        (
            ReleaseReason::ForceReleased,
            Some(actor.operator.id.clone()),
        )
    };
    Ok(hand_back(state, holder, reason, by))
}

/// A release decided by the hub (holder gone or idle). It applies only to the exact holding it
/// was decided for: if control changed meanwhile, it is a no-op, so it can never release a
/// newer holder and it happens at most once.
pub fn auto_release(
    state: &ControlState,
    holder_id: &str,
    epoch: u64,
    reason: ReleaseReason,
) -> Transition {
    match &state.holder {
        Holder::Operator(holder) if holder.id == holder_id && state.epoch == epoch => {
            hand_back(state, holder, reason, None)
        }
        _ => Transition::Unchanged,
    }
}

fn hand_back(
    state: &ControlState,
    holder: &OperatorRef,
    reason: ReleaseReason,
    by: Option<OperatorId>,
) -> Transition {
    let epoch = state.epoch + 1;
    Transition::Changed {
        state: ControlState {
            holder: Holder::Ai,
            epoch,
        },
        event: EventKind::OperatorLeft {
            operator: holder.clone(),
            epoch,
            reason,
            by,
        },
    }
}

/// Limits of an operator's hold on a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldLimits {
    /// All of the holder's connections gone this long: release (`disconnected`).
    pub grace_ms: u64,
    /// No action by the holder this long: release (`idle`).
    pub idle_ms: u64,
    /// Warn the holder this long before an idle release.
    pub warn_ms: u64,
}

/// What the hub should do about a holding now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldCheck {
    Keep,
    /// Warn the holder: an idle release comes at `release_at`.
    Warn {
        release_at: u64,
    },
    Release(ReleaseReason),
}

/// Decide about a holding from when the holder was last connected (`seen`, refreshed by every
/// node they are connected to) and when they last acted on the conversation (`active`).
pub fn check_hold(now: u64, seen: u64, active: u64, limits: &HoldLimits) -> HoldCheck {
    // Taking over or writing proves a connection too, so a fresh holding is never "gone".
    let seen = seen.max(active);
    if now.saturating_sub(seen) >= limits.grace_ms {
        return HoldCheck::Release(ReleaseReason::Disconnected);
    }
    let release_at = active.saturating_add(limits.idle_ms);
    if now >= release_at {
        HoldCheck::Release(ReleaseReason::Idle)
    } else if now.saturating_add(limits.warn_ms) >= release_at {
        HoldCheck::Warn { release_at }
    } else {
        HoldCheck::Keep
    }
}

/// May an event behind `fence` be appended in `state`?
pub fn may_append(state: &ControlState, fence: &Writer) -> Result<(), ControlError> {
    match (fence, &state.holder) {
        (Writer::Visitor, _) => Ok(()),
        (Writer::Ai { epoch }, Holder::Ai) if *epoch == state.epoch => Ok(()),
        (Writer::Ai { .. }, _) => Err(ControlError::StaleEpoch),
        (Writer::Operator(id), Holder::Operator(holder)) if &holder.id == id => Ok(()),
        (Writer::Operator(_), Holder::Operator(_)) => Err(ControlError::NotHolder),
        (Writer::Operator(_), Holder::Ai) => Err(ControlError::NotControlled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: &str) -> OperatorRef {
        OperatorRef {
            id: id.into(),
            name: format!("{id} name"),
            display_name: None,
            avatar_url: None,
        }
    }

    fn actor(id: &str, role: Role) -> Actor {
        Actor {
            operator: op(id),
            role,
        }
    }

    fn held_by(id: &str, epoch: u64) -> ControlState {
        ControlState {
            holder: Holder::Operator(op(id)),
            epoch,
        }
    }

    fn ai(epoch: u64) -> ControlState {
        ControlState {
            holder: Holder::Ai,
            epoch,
        }
    }

    fn changed(t: Transition) -> (ControlState, EventKind) {
        match t {
            Transition::Changed { state, event } => (state, event),
            Transition::Unchanged => panic!("expected a change"),
        }
    }

    #[test]
    fn ai_holds_by_default() {
        assert_eq!(initial(), ai(0));
    }

    #[test]
    fn plans_gate_take_control() {
        assert_eq!(check_plan(Plan::Basic), Err(ControlError::PlanRequired));
        assert_eq!(check_plan(Plan::Standard), Err(ControlError::PlanRequired));
        assert_eq!(check_plan(Plan::Pro), Ok(()));
        assert_eq!(check_plan(Plan::Business), Ok(()));
    }

    #[test]
    fn takeover_from_ai_bumps_epoch_and_records_joined() {
        let (state, event) = changed(takeover(&ai(4), &op("a")).expect("ok"));
        assert_eq!(state, held_by("a", 5));
        assert_eq!(
            event,
            EventKind::OperatorJoined {
                operator: op("a"),
                epoch: 5
            }
        );
    }

    #[test]
    fn takeover_by_the_holder_again_changes_nothing() {
        assert_eq!(
            takeover(&held_by("a", 1), &op("a")),
            Ok(Transition::Unchanged)
        );
    }

    #[test]
    fn takeover_of_a_held_conversation_names_the_holder() {
        assert_eq!(
            takeover(&held_by("a", 1), &op("b")),
            Err(ControlError::AlreadyControlled(op("a")))
        );
    }

    #[test]
    fn release_by_holder_for_every_role() {
        for role in [Role::Owner, Role::Editor, Role::Operator] {
            for force in [false, true] {
                let (state, event) =
                    changed(release(&held_by("a", 1), &actor("a", role), force).expect("ok"));
                assert_eq!(state, ai(2));
                assert_eq!(
                    event,
                    EventKind::OperatorLeft {
                        operator: op("a"),
                        epoch: 2,
                        reason: ReleaseReason::Ended,
                        by: None
                    }
                );
            }
        }
    }

    #[test]
    fn release_when_ai_holds_is_refused_for_everyone() {
        for role in [Role::Owner, Role::Editor, Role::Operator] {
            for force in [false, true] {
                assert_eq!(
                    release(&ai(3), &actor("a", role), force),
                    Err(ControlError::NotControlled)
                );
            }
        }
    }

    #[test]
    fn release_of_someone_elses_without_force_is_not_holder() {
        for role in [Role::Owner, Role::Editor, Role::Operator] {
            assert_eq!(
                release(&held_by("a", 1), &actor("b", role), false),
                Err(ControlError::NotHolder)
            );
        }
    }

    #[test]
    fn force_release_by_owner_and_editor_only() {
        for role in [Role::Owner, Role::Editor] {
            let (state, event) =
                changed(release(&held_by("a", 1), &actor("b", role), true).expect("ok"));
            assert_eq!(state, ai(2));
            assert_eq!(
                event,
                EventKind::OperatorLeft {
                    operator: op("a"),
                    epoch: 2,
                    reason: ReleaseReason::ForceReleased,
                    by: Some("b".into())
                }
            );
        }
        assert_eq!(
            release(&held_by("a", 1), &actor("b", Role::Operator), true),
            Err(ControlError::RoleRequired)
        );
    }

    #[test]
    fn auto_release_applies_only_to_the_exact_holding() {
        let (state, _) = changed(auto_release(
            &held_by("a", 3),
            "a",
            3,
            ReleaseReason::Disconnected,
        ));
        assert_eq!(state, ai(4));
        // Released meanwhile, taken by someone else, or taken again by the same operator later:
        assert_eq!(
            auto_release(&ai(4), "a", 3, ReleaseReason::Idle),
            Transition::Unchanged
        );
        assert_eq!(
            auto_release(&held_by("b", 5), "a", 3, ReleaseReason::Idle),
            Transition::Unchanged
        );
        assert_eq!(
            auto_release(&held_by("a", 5), "a", 3, ReleaseReason::Idle),
            Transition::Unchanged
        );
    }

    const LIMITS: HoldLimits = HoldLimits {
        grace_ms: 60_000,
        idle_ms: 900_000,
        warn_ms: 60_000,
    };

    #[test]
    fn a_connected_active_holder_keeps_the_conversation() {
        assert_eq!(check_hold(1_000, 1_000, 1_000, &LIMITS), HoldCheck::Keep);
        assert_eq!(
            check_hold(100_000, 99_000, 50_000, &LIMITS),
            HoldCheck::Keep
        );
    }

    #[test]
    fn a_holder_gone_past_the_grace_is_released_as_disconnected() {
        assert_eq!(
            check_hold(61_000, 1_000, 1_000, &LIMITS),
            HoldCheck::Release(ReleaseReason::Disconnected)
        );
        // Just inside the grace: kept.
        assert_eq!(check_hold(60_999, 1_000, 1_000, &LIMITS), HoldCheck::Keep);
        // Acting on the conversation counts as being connected.
        assert_eq!(check_hold(61_000, 1_000, 30_000, &LIMITS), HoldCheck::Keep);
    }

    #[test]
    fn an_idle_holder_is_warned_then_released() {
        let active = 0;
        let seen = |now: u64| now - 1_000; // connected all along
        assert_eq!(
            check_hold(839_999, seen(839_999), active, &LIMITS),
            HoldCheck::Keep
        );
        assert_eq!(
            check_hold(840_000, seen(840_000), active, &LIMITS),
            HoldCheck::Warn {
                release_at: 900_000
            }
        );
        assert_eq!(
            check_hold(900_000, seen(900_000), active, &LIMITS),
            HoldCheck::Release(ReleaseReason::Idle)
        );
    }

    #[test]
    fn visitors_may_always_append() {
        assert_eq!(may_append(&ai(0), &Writer::Visitor), Ok(()));
        assert_eq!(may_append(&held_by("a", 1), &Writer::Visitor), Ok(()));
    }

    #[test]
    fn ai_append_needs_current_epoch_and_ai_holding() {
        assert_eq!(may_append(&ai(2), &Writer::Ai { epoch: 2 }), Ok(()));
        // Started before a takeover and its release: epoch moved on twice.
        assert_eq!(
            may_append(&ai(2), &Writer::Ai { epoch: 0 }),
            Err(ControlError::StaleEpoch)
        );
        // Started under the epoch that an operator now holds (cannot happen with bumps, still refused).
        assert_eq!(
            may_append(&held_by("a", 1), &Writer::Ai { epoch: 1 }),
            Err(ControlError::StaleEpoch)
        );
        assert_eq!(
            may_append(&held_by("a", 1), &Writer::Ai { epoch: 0 }),
            Err(ControlError::StaleEpoch)
        );
    }

    #[test]
    fn operator_append_needs_holding() {
        assert_eq!(
            may_append(&held_by("a", 1), &Writer::Operator("a".into())),
            Ok(())
        );
        assert_eq!(
            may_append(&held_by("a", 1), &Writer::Operator("b".into())),
            Err(ControlError::NotHolder)
        );
        assert_eq!(
            may_append(&ai(1), &Writer::Operator("a".into())),
            Err(ControlError::NotControlled)
        );
    }

    #[test]
    fn a_takeover_fences_off_every_reply_started_before_it() {
        // Any interleaving: reply started at epoch e, then takeover (and maybe release) happen.
        let mut state = initial();
        for round in 0..5 {
            let started = state.epoch;
            state = changed(takeover(&state, &op("a")).expect("takeover")).0;
            assert!(may_append(&state, &Writer::Ai { epoch: started }).is_err());
            state =
                changed(release(&state, &actor("a", Role::Operator), false).expect("release")).0;
            assert!(
                may_append(&state, &Writer::Ai { epoch: started }).is_err(),
                "round {round}"
            );
            assert!(may_append(&state, &Writer::Ai { epoch: state.epoch }).is_ok());
        }
    }
}
