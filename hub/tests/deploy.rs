//! What `deploy/` gives a team matches the hub: every series the Grafana dashboard and the
//! Prometheus alert rules query is exposed by a running hub and documented in
//! docs/operations.md, and the Kubernetes manifests set only settings the hub takes. Their syntax
//! (promtool, the Kubernetes schemas) is checked by scripts/check-deploy.sh.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use clap::CommandFactory;
use common::{TestHub, http};
use hub::config::Cli;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The files whose queries name hub series.
const QUERIES: [&str; 3] = [
    "deploy/grafana/take-control.json",
    "deploy/prometheus/alerts.yml",
    "deploy/prometheus/alerts.test.yml",
];

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every whole word of `text` that starts with `prefix` (`tc_` for series, `TC_` for settings).
fn words(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices(prefix) {
        if text[..i].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let end = text[i..]
            .find(|c| !is_ident(c))
            .map_or(text.len(), |n| i + n);
        found.insert(text[i..end].to_owned());
    }
    found
}

/// A Prometheus or OpenMetrics exposition: the families its `# TYPE` lines declare (name →
/// type) and the names of its samples.
struct Exposition {
    families: BTreeMap<String, String>,
    samples: BTreeSet<String>,
}

impl Exposition {
    fn parse(text: &str) -> Self {
        let mut families = BTreeMap::new();
        let mut samples = BTreeSet::new();
        for line in text.lines() {
            if let Some(declared) = line.strip_prefix("# TYPE ") {
                let mut parts = declared.split_whitespace();
                let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                    panic!("malformed TYPE line: {line}");
                };
                families.insert(name.to_owned(), kind.to_owned());
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                let end = line.find(['{', ' ']).unwrap_or(line.len());
                samples.insert(line[..end].to_owned());
            }
        }
        Exposition { families, samples }
    }

    /// The family a series belongs to: its own name (a gauge, or a counter declared with
    /// `_total` as the text format allows), a counter declared without `_total` (OpenMetrics),
    /// or a histogram's `_bucket`, `_sum` and `_count`.
    fn family_of(&self, series: &str) -> Option<&str> {
        let declared = |name: &str, kinds: &[&str]| {
            self.families
                .get_key_value(name)
                .filter(|(_, kind)| kinds.contains(&kind.as_str()))
                .map(|(name, _)| name.as_str())
        };
        let histogram_part = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| series.strip_suffix(suffix))
            .and_then(|family| declared(family, &["histogram"]));
        histogram_part
            .or_else(|| {
                series
                    .strip_suffix("_total")
                    .and_then(|family| declared(family, &["counter"]))
            })
            .or_else(|| declared(series, &["gauge", "counter", "untyped", "unknown"]))
    }

    /// A query naming `series` finds it: a sample of that name, or a declared family with no
    /// sample yet (a family with labels shows none until its first child exists).
    fn serves(&self, series: &str) -> bool {
        let Some(family) = self.family_of(series) else {
            return false;
        };
        self.samples.contains(series)
            || !self
                .samples
                .iter()
                .any(|s| self.family_of(s) == Some(family))
    }
}

/// docs/operations.md's metrics table: series name → type.
fn documented() -> BTreeMap<String, String> {
    let doc = read("docs/operations.md");
    let table: BTreeMap<String, String> = doc
        .lines()
        .filter(|l| l.starts_with("| `tc_"))
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`');
            let name = name.split('{').next().expect("a name");
            (name.to_owned(), cells[2].to_owned())
        })
        .collect();
    assert!(
        table.len() >= 20,
        "only {} series in the table",
        table.len()
    );
    table
}

/// Whether `series` is a documented one, or a histogram's part of one.
fn is_documented(table: &BTreeMap<String, String>, series: &str) -> bool {
    table.contains_key(series)
        || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
            series
                .strip_suffix(suffix)
                .is_some_and(|family| table.get(family).is_some_and(|t| t == "histogram"))
        })
}

#[test]
fn the_exposition_parser_reads_both_formats() {
    let text = "# TYPE tc_a_total counter\ntc_a_total 1\n\
                # TYPE tc_b counter\ntc_b_total{k=\"v\"} 2\n\
                # TYPE tc_c_seconds histogram\ntc_c_seconds_bucket{le=\"+Inf\"} 0\n\
                tc_c_seconds_sum 0\ntc_c_seconds_count 0\n\
                # TYPE tc_d gauge\ntc_d 3\n\
                # TYPE tc_e counter\n# EOF\n";
    let e = Exposition::parse(text);
    for ok in [
        "tc_a_total",
        "tc_b_total",
        "tc_c_seconds_bucket",
        "tc_c_seconds_sum",
        "tc_c_seconds_count",
        "tc_d",
        "tc_e_total",
    ] {
        assert!(e.serves(ok), "{ok}");
    }
    for missing in ["tc_b", "tc_c_seconds", "tc_d_total", "tc_d_bucket", "tc_f"] {
        assert!(!e.serves(missing), "{missing}");
    }
}

#[tokio::test]
async fn every_series_the_dashboard_and_alerts_query_is_exposed() {
    let th = TestHub::start().await;
    let (status, text) = http(th.addr(), "GET", "/metrics", None).await;
    assert_eq!(status, 200);
    let exposition = Exposition::parse(&text);
    assert!(exposition.families.len() >= 20, "{text}");
    let mut checked = 0;
    for path in QUERIES {
        let used = words(&read(path), "tc_");
        assert!(!used.is_empty(), "{path} names no tc_ series");
        for series in used {
            assert!(
                exposition.serves(&series),
                "{path} queries {series}, which the hub does not expose:\n{text}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} names checked");
}

#[test]
fn the_dashboard_and_alerts_query_only_documented_series() {
    let table = documented();
    for path in QUERIES {
        for series in words(&read(path), "tc_") {
            assert!(
                is_documented(&table, &series),
                "{path} queries {series}, which docs/operations.md's metrics table lacks"
            );
        }
    }
}

#[test]
fn the_dashboard_shows_every_documented_series() {
    let used = words(&read("deploy/grafana/take-control.json"), "tc_");
    for (series, kind) in documented() {
        let shown = if kind == "histogram" {
            used.contains(&format!("{series}_bucket"))
        } else {
            used.contains(&series)
        };
        assert!(
            shown,
            "deploy/grafana/take-control.json has no panel for {series} ({kind})"
        );
    }
}

#[test]
fn the_kubernetes_manifests_set_only_settings_the_hub_takes() {
    let cmd = Cli::command();
    let mut known: BTreeSet<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    // The log filter, read by tracing rather than by a flag.
    known.insert("TC_LOG".into());
    let dir = format!("{ROOT}/deploy/k8s");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("deploy/k8s") {
        let path = entry.expect("an entry").path();
        let text = std::fs::read_to_string(&path).expect("a manifest");
        for setting in words(&text, "TC_") {
            assert!(
                known.contains(&setting),
                "{} sets {setting}, which the hub does not read",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} settings found");
}

/// The workspaces file in the ConfigMap is one the hub starts with.
#[test]
fn the_example_workspaces_file_loads() {
    let configmap = read("deploy/k8s/configmap.yaml");
    let mut lines = configmap.lines();
    lines
        .by_ref()
        .find(|l| l.trim() == "workspaces.json: |")
        .expect("workspaces.json in configmap.yaml");
    // A YAML block scalar: the lines indented deeper than its key.
    let json: String = lines
        .take_while(|l| l.starts_with("    ") || l.trim().is_empty())
        .map(|l| format!("{}\n", l.trim()))
        .collect();
    hub::directory::Directory::from_json(&json)
        .unwrap_or_else(|e| panic!("deploy/k8s/configmap.yaml's workspaces.json: {e}\n{json}"));
}
