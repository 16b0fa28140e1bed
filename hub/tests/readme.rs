//! The README's configuration table lists every flag and environment variable the hub takes.

use clap::CommandFactory;
use hub::config::Cli;

#[test]
fn every_flag_is_in_the_readme_table() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let cmd = Cli::command();
    let mut checked = 0;
    for arg in cmd.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "help" | "version") {
            continue;
        }
        let env = arg
            .get_env()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_else(|| panic!("--{long} has no environment variable"));
        let row = format!("| `--{long}` | `{env}` |");
        assert!(
            readme.contains(&row),
            "README lacks the row for --{long} ({env})"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} flags found");
}

/// docs/security.md names a test for each hostile input: each named test exists.
#[test]
fn every_test_the_security_table_names_exists() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let doc = std::fs::read_to_string(format!("{root}/docs/security.md")).expect("security.md");
    // `module::tests::name`: a unit test in hub/src (or protocol/src, for the rules the
    // protocol crate holds); `file::name`: an integration test.
    let source = |module: &str, unit: bool| -> Option<String> {
        let paths = if unit {
            vec![
                format!("{root}/hub/src/{module}.rs"),
                format!("{root}/protocol/src/{module}.rs"),
            ]
        } else {
            vec![format!("{root}/hub/tests/{module}.rs")]
        };
        paths
            .into_iter()
            .find_map(|path| std::fs::read_to_string(path).ok())
    };
    let mut checked = 0;
    for row in doc
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains('`'))
    {
        let Some(tests) = row.trim_end_matches('|').rsplit('|').next() else {
            continue;
        };
        for name in tests.split('`').skip(1).step_by(2) {
            // `file::test` or `module::tests::test`.
            let parts: Vec<&str> = name.split("::").collect();
            if parts.len() < 2
                || !parts
                    .iter()
                    .all(|p| p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            {
                continue;
            }
            let (module, test) = (parts[0], parts[parts.len() - 1]);
            let Some(src) = source(module, parts.len() == 3 && parts[1] == "tests") else {
                panic!("security.md names {name}, but there is no {module}");
            };
            assert!(
                src.contains(&format!("fn {test}(")),
                "security.md names {name}, which does not exist"
            );
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked} tests named");
}
