//! What each dashboard receives for the Online list and the team view: frames and bytes per
//! dashboard, counted by its task, read around each measured window, and turned into rates per
//! dashboard (mean and max over the dashboards).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::wire::FrameKind;

/// One dashboard's running counts, moved by its task.
#[derive(Debug, Default)]
pub struct DashCounters {
    online_frames: AtomicU64,
    online_bytes: AtomicU64,
    team_frames: AtomicU64,
    team_bytes: AtomicU64,
}

impl DashCounters {
    /// Count one received frame of `bytes` (its text's length) if it is an Online-list or team
    /// frame; returns whether it was one.
    pub fn count(&self, kind: FrameKind, bytes: usize) -> bool {
        let (frames, total) = match kind {
            FrameKind::Online => (&self.online_frames, &self.online_bytes),
            FrameKind::Team => (&self.team_frames, &self.team_bytes),
            FrameKind::Other => return false,
        };
        frames.fetch_add(1, Ordering::Relaxed);
        total.fetch_add(bytes as u64, Ordering::Relaxed);
        true
    }

    pub fn read(&self) -> DashSnap {
        DashSnap {
            online: (
                self.online_frames.load(Ordering::Relaxed),
                self.online_bytes.load(Ordering::Relaxed),
            ),
            team: (
                self.team_frames.load(Ordering::Relaxed),
                self.team_bytes.load(Ordering::Relaxed),
            ),
        }
    }
}

/// A dashboard's counts at one instant: (frames, bytes) of each kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DashSnap {
    pub online: (u64, u64),
    pub team: (u64, u64),
}

/// Frames and bytes per second per dashboard over a window: the mean over the dashboards
/// counted and the busiest one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PerDashboard {
    pub dashboards: usize,
    pub frames_mean: f64,
    pub frames_max: f64,
    pub bytes_mean: f64,
    pub bytes_max: f64,
}

impl PerDashboard {
    /// The rates of the dashboards `include` picks (by index), from their counts of one kind
    /// (`pick`) before and after a window of `secs`.
    pub fn over(
        before: &[DashSnap],
        after: &[DashSnap],
        secs: f64,
        pick: impl Fn(&DashSnap) -> (u64, u64),
        include: impl Fn(usize) -> bool,
    ) -> Self {
        let secs = secs.max(1e-9);
        let mut r = PerDashboard::default();
        for (i, (b, a)) in before.iter().zip(after).enumerate() {
            if !include(i) {
                continue;
            }
            let ((fb, bb), (fa, ba)) = (pick(b), pick(a));
            let frames = fa.saturating_sub(fb) as f64 / secs;
            let bytes = ba.saturating_sub(bb) as f64 / secs;
            r.dashboards += 1;
            r.frames_mean += frames;
            r.bytes_mean += bytes;
            r.frames_max = r.frames_max.max(frames);
            r.bytes_max = r.bytes_max.max(bytes);
        }
        if r.dashboards > 0 {
            r.frames_mean /= r.dashboards as f64;
            r.bytes_mean /= r.dashboards as f64;
        }
        r
    }

    /// `frames/s mean / max` and `bytes/s mean / max`, or `–` with no dashboard counted.
    pub fn cells(&self) -> [String; 2] {
        if self.dashboards == 0 {
            return ["–".into(), "–".into()];
        }
        [
            format!("{:.2} / {:.2}", self.frames_mean, self.frames_max),
            format!("{:.0} / {:.0}", self.bytes_mean, self.bytes_max),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_online_and_team_frames() {
        let c = DashCounters::default();
        assert!(c.count(FrameKind::Online, 300));
        assert!(c.count(FrameKind::Online, 100));
        assert!(c.count(FrameKind::Team, 50));
        assert!(!c.count(FrameKind::Other, 1_000));
        assert_eq!(
            c.read(),
            DashSnap {
                online: (2, 400),
                team: (1, 50)
            }
        );
    }

    #[test]
    fn rates_per_dashboard_are_mean_and_max_over_those_included() {
        let snap = |f, b| DashSnap {
            online: (f, b),
            team: (0, 0),
        };
        let before = [snap(10, 1_000), snap(0, 0), snap(5, 500)];
        let after = [snap(18, 3_000), snap(4, 1_000), snap(5, 500)];
        let all = PerDashboard::over(&before, &after, 2.0, |s| s.online, |_| true);
        assert_eq!(all.dashboards, 3);
        assert_eq!(all.frames_max, 4.0);
        assert_eq!(all.bytes_max, 1_000.0);
        assert_eq!(all.frames_mean, 2.0); // (4 + 2 + 0) / 3
        assert_eq!(all.bytes_mean, 500.0); // (1,000 + 500 + 0) / 3
        let first = PerDashboard::over(&before, &after, 2.0, |s| s.online, |i| i == 0);
        assert_eq!(
            (first.dashboards, first.frames_mean, first.bytes_mean),
            (1, 4.0, 1_000.0)
        );
        let none = PerDashboard::over(&before, &after, 2.0, |s| s.team, |_| false);
        assert_eq!(none, PerDashboard::default());
        assert_eq!(none.cells(), ["–", "–"]);
    }
}
