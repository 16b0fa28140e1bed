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
