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
