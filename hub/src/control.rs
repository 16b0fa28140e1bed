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
    /// A transfer to the holder, or to the one transferring.
    #[error("the conversation is already theirs")]
    TransferToSelf,
    /// A transfer asked under an epoch that is no longer the conversation's.
    #[error("someone else changed who handles this conversation first")]
    ControlChanged,
}

impl ControlError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::PlanRequired => ErrorCode::PlanRequired,
            Self::AlreadyControlled(_) => ErrorCode::AlreadyControlled,
            Self::NotControlled => ErrorCode::NotControlled,
            Self::NotHolder => ErrorCode::NotHolder,
            Self::RoleRequired => ErrorCode::RoleRequired,
            Self::TransferToSelf => ErrorCode::TransferToSelf,
            Self::ControlChanged => ErrorCode::ControlChanged,
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

/// `release` (End) by the holder, or a force-release by an owner or editor. `seen_epoch`: the
/// epoch the actor saw, when they said (see [`transfer`]); a force-release racing a transfer
/// then does not release the recipient.
pub fn release(
    state: &ControlState,
    actor: &Actor,
    force: bool,
    seen_epoch: Option<u64>,
) -> Result<Transition, ControlError> {
    if seen_epoch.is_some_and(|e| e != state.epoch) {
        return Err(ControlError::ControlChanged);
    }
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

/// Hand a held conversation from its holder to `to`, by the holder or an owner or editor, in
/// one step: the holder changes, the epoch is bumped, and the AI never holds it in between (so
/// it may not write at any epoch of the change). `seen_epoch`: the epoch the actor saw; checked
/// first, so that of racing transfers, releases and takeovers exactly one takes effect and the
/// others learn that control moved on.
pub fn transfer(
    state: &ControlState,
    actor: &Actor,
    to: &OperatorRef,
    seen_epoch: u64,
) -> Result<Transition, ControlError> {
    if state.epoch != seen_epoch {
        return Err(ControlError::ControlChanged);
    }
    let Holder::Operator(holder) = &state.holder else {
        return Err(ControlError::NotControlled);
    };
    let by_holder = holder.id == actor.operator.id;
    if !by_holder && !actor.role.may_force_release() {
        return Err(ControlError::RoleRequired);
    }
    if to.id == holder.id || to.id == actor.operator.id {
        return Err(ControlError::TransferToSelf);
    }
    let epoch = state.epoch + 1;
    Ok(Transition::Changed {
        state: ControlState {
            holder: Holder::Operator(to.clone()),
            epoch,
        },
        event: EventKind::OperatorTransferred {
            from: Box::new(holder.clone()),
            to: Box::new(to.clone()),
            epoch,
            by: (!by_holder).then(|| actor.operator.id.clone()),
        },
    })
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
                    changed(release(&held_by("a", 1), &actor("a", role), force, None).expect("ok"));
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
                    release(&ai(3), &actor("a", role), force, None),
                    Err(ControlError::NotControlled)
                );
            }
        }
    }

    #[test]
    fn release_of_someone_elses_without_force_is_not_holder() {
        for role in [Role::Owner, Role::Editor, Role::Operator] {
            assert_eq!(
                release(&held_by("a", 1), &actor("b", role), false, None),
                Err(ControlError::NotHolder)
            );
        }
    }

    #[test]
    fn force_release_by_owner_and_editor_only() {
        for role in [Role::Owner, Role::Editor] {
            let (state, event) =
                changed(release(&held_by("a", 1), &actor("b", role), true, None).expect("ok"));
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
            release(&held_by("a", 1), &actor("b", Role::Operator), true, None),
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
            state = changed(
                release(&state, &actor("a", Role::Operator), false, None).expect("release"),
            )
            .0;
            assert!(
                may_append(&state, &Writer::Ai { epoch: started }).is_err(),
                "round {round}"
            );
            assert!(may_append(&state, &Writer::Ai { epoch: state.epoch }).is_ok());
        }
    }

    #[test]
    fn transfer_by_the_holder_or_an_owner_or_editor_changes_the_holder_at_once() {
        for (who, role, by) in [
            ("a", Role::Operator, None),
            ("boss", Role::Owner, Some("boss")),
            ("ed", Role::Editor, Some("ed")),
        ] {
            let (state, event) =
                changed(transfer(&held_by("a", 3), &actor(who, role), &op("n"), 3).expect(who));
            assert_eq!(state, held_by("n", 4));
            assert_eq!(
                event,
                EventKind::OperatorTransferred {
                    from: Box::new(op("a")),
                    to: Box::new(op("n")),
                    epoch: 4,
                    by: by.map(Into::into),
                }
            );
            // The AI never holds it: not at the old epoch, not at the new one.
            for epoch in [3, 4] {
                assert_eq!(
                    may_append(&state, &Writer::Ai { epoch }),
                    Err(ControlError::StaleEpoch)
                );
            }
            assert_eq!(may_append(&state, &Writer::Operator("n".into())), Ok(()));
            assert_eq!(
                may_append(&state, &Writer::Operator("a".into())),
                Err(ControlError::NotHolder)
            );
        }
    }

    #[test]
    fn transfer_refusals_in_order_epoch_then_holder_then_role_then_recipient() {
        let held = held_by("a", 3);
        let a = actor("a", Role::Operator);
        assert_eq!(
            transfer(&held, &a, &op("n"), 2),
            Err(ControlError::ControlChanged)
        );
        assert_eq!(
            transfer(&ai(3), &a, &op("n"), 3),
            Err(ControlError::NotControlled)
        );
        assert_eq!(
            transfer(&held, &actor("b", Role::Operator), &op("n"), 3),
            Err(ControlError::RoleRequired)
        );
        assert_eq!(
            transfer(&held, &a, &op("a"), 3),
            Err(ControlError::TransferToSelf)
        );
        assert_eq!(
            transfer(&held, &actor("boss", Role::Owner), &op("boss"), 3),
            Err(ControlError::TransferToSelf)
        );
    }

    #[test]
    fn of_racing_changes_under_one_epoch_exactly_one_applies() {
        // Two transfers, a release and a force-release all saw epoch 3; whichever comes first
        // applies, and every later one is refused.
        let first: [fn(&ControlState) -> Result<Transition, ControlError>; 4] = [
            |s| transfer(s, &actor("a", Role::Operator), &op("n"), 3),
            |s| transfer(s, &actor("boss", Role::Owner), &op("m"), 3),
            |s| release(s, &actor("a", Role::Operator), false, Some(3)),
            |s| release(s, &actor("boss", Role::Owner), true, Some(3)),
        ];
        for (i, winner) in first.iter().enumerate() {
            let state = changed(winner(&held_by("a", 3)).expect("first applies")).0;
            for (j, other) in first.iter().enumerate() {
                if i != j {
                    assert!(other(&state).is_err(), "{j} after {i} must be refused");
                }
            }
        }
    }
}
