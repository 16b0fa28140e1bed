//! CPU time and resident memory of a process, from `/proc` (Linux only).

use std::time::Instant;

/// One reading of a process.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Instant,
    /// utime + stime, microseconds.
    pub cpu_us: u64,
    /// stime alone (time in the kernel on the process's behalf), microseconds.
    pub sys_us: u64,
    /// VmRSS, KiB.
    pub rss_kib: u64,
}

/// Clock ticks per second of `/proc/<pid>/stat` times. `sysconf(_SC_CLK_TCK)` needs libc, so
/// ask `getconf` once; 100 on every Linux this runs on.
pub fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// `pid` of `None` is this process.
pub fn sample(pid: Option<u32>) -> anyhow::Result<Sample> {
    let dir = match pid {
        Some(p) => format!("/proc/{p}"),
        None => "/proc/self".to_owned(),
    };
    let at = Instant::now();
    let stat = std::fs::read_to_string(format!("{dir}/stat"))?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow::anyhow!("bad {dir}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> u64 { fields.get(i).and_then(|f| f.parse().ok()).unwrap_or(0) };
    let (user, system) = (field(11), field(12));
    let status = std::fs::read_to_string(format!("{dir}/status"))?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(Sample {
        at,
        cpu_us: (user + system) * 1_000_000 / clock_ticks(),
        sys_us: system * 1_000_000 / clock_ticks(),
        rss_kib,
    })
}

/// The share of one core `b` → `a` took (1.0: a whole core).
pub fn cpu_share(b: &Sample, a: &Sample) -> f64 {
    let wall = a.at.duration_since(b.at).as_secs_f64() * 1e6;
    a.cpu_us.saturating_sub(b.cpu_us) as f64 / wall.max(1.0)
}

/// The hubs' CPU time over a window, summed.
#[derive(Debug, Clone, Copy)]
pub struct HubCpu {
    /// User + system, µs.
    pub us: u64,
    /// System alone, µs.
    pub sys_us: u64,
    /// The window, s.
    pub wall: f64,
}

/// Hub CPU used in the window and hub RSS at its end, summed over the hub processes of
/// `watched` (`None` when none was read).
pub fn hub_totals(
    watched: &[Watched],
    before: &[Option<Sample>],
    after: &[Option<Sample>],
) -> (Option<HubCpu>, Option<u64>) {
    let mut cpu = HubCpu {
        us: 0,
        sys_us: 0,
        wall: 0.0,
    };
    let mut rss = 0;
    let mut any = false;
    for (i, w) in watched.iter().enumerate() {
        if let (true, Some(b), Some(a)) = (w.is_hub, before[i], after[i]) {
            cpu.us += a.cpu_us.saturating_sub(b.cpu_us);
            cpu.sys_us += a.sys_us.saturating_sub(b.sys_us);
            cpu.wall = cpu.wall.max(a.at.duration_since(b.at).as_secs_f64());
            rss += a.rss_kib;
            any = true;
        }
    }
    if any {
        (Some(cpu), Some(rss))
    } else {
        (None, None)
    }
}

/// CPU microseconds used in the window by every watched server process (all but the
/// generator itself): hubs or relays, Redis, nginx.
pub fn servers_cpu_us(
    watched: &[Watched],
    before: &[Option<Sample>],
    after: &[Option<Sample>],
) -> u64 {
    watched
        .iter()
        .enumerate()
        .filter(|(_, w)| w.pid.is_some())
        .filter_map(|(i, _)| Some(after[i]?.cpu_us.saturating_sub(before[i]?.cpu_us)))
        .sum()
}

/// CPU microseconds used in the window by the watched processes labelled `label` (the
/// `redis` of `--pid redis=…`), summed; `None` when there is none.
pub fn labelled_cpu_us(
    watched: &[Watched],
    before: &[Option<Sample>],
    after: &[Option<Sample>],
    label: &str,
) -> Option<u64> {
    let used: Vec<u64> = watched
        .iter()
        .enumerate()
        .filter(|(_, w)| w.label == label)
        .filter_map(|(i, _)| Some(after[i]?.cpu_us.saturating_sub(before[i]?.cpu_us)))
        .collect();
    (!used.is_empty()).then(|| used.iter().sum())
}

/// A labelled process to watch.
#[derive(Debug, Clone)]
pub struct Watched {
    pub label: String,
    pub pid: Option<u32>,
    /// A hub node: its CPU counts towards "hub CPU per message".
    pub is_hub: bool,
}

/// Readings of every watched process at one instant.
pub fn sample_all(watched: &[Watched]) -> Vec<Option<Sample>> {
    watched.iter().map(|w| sample(w.pid).ok()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_itself() {
        let s = super::sample(None).expect("/proc/self");
        assert!(s.rss_kib > 0);
        assert!(s.sys_us <= s.cpu_us);
    }
}
