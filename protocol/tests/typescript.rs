//! The committed TypeScript in `web-ui/src/protocol/` must be what the Rust types generate.

use std::path::PathBuf;

fn check(file: &str, generated: String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../web-ui/src/protocol")
        .join(file);
    if std::env::var_os("UPDATE_TS").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &generated).expect("write generated TypeScript");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `UPDATE_TS=1 cargo test -p take-control-protocol --test typescript`",
        path.display()
    );
}

#[test]
fn frames_ts_is_current() {
    check("frames.ts", protocol::typescript::frames_ts());
}

#[test]
fn codes_ts_is_current() {
    check("codes.ts", protocol::typescript::codes_ts());
}
