//! Decompression bombs posted as avatars: each is answered quickly, and the process's peak
//! memory stays within a bound far below what the bomb inflates to.
//!
//! One test in its own binary, run serially: the peak (`VmHWM`, reset through
//! `/proc/self/clear_refs`) is the whole process's, hub included, so nothing else may run.

mod common;

use std::time::{Duration, Instant};

use common::{BinResponse, TestHub, http_bin};
use hub::profile::samples;
use protocol::Role;

const MIB: usize = 1024 * 1024;
/// What one bomb inflates to, if anything inflated it.
const INFLATED: usize = 600 * MIB;
/// The bound on the process's peak growth while a bomb is handled.
const PEAK_BOUND: u64 = 64 * MIB as u64;
/// The bound on the time to the answer (debug build).
const TIME_BOUND: Duration = Duration::from_secs(3);

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Reset the peak to the current resident size; `false` where the kernel cannot.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

async fn upload(th: &TestHub, token: &str, body: &[u8]) -> BinResponse {
    let auth = format!("Bearer {token}");
    http_bin(
        th.addr(),
        "POST",
        "/api/profile/avatar",
        &[("Authorization", &auth), ("Content-Type", "image/png")],
        body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bombs_are_answered_quickly_within_a_memory_bound() {
    let mut config = hub::Config::for_tests();
    config.avatar_decodes = 2;
    let th = TestHub::with(config, None).await;
    // Each bomb as another operator: the upload rate limit is not what is tested.
    let mut n = 0;
    let mut token = || {
        n += 1;
        th.token(&format!("op{n}"), "demo-pro", Role::Operator)
    };
    let mut huge_header_iccp = samples::png_iccp_bomb(INFLATED);
    huge_header_iccp[16..24].copy_from_slice(&[0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20]);
    let cases: Vec<(&str, Vec<u8>, u16, Option<&str>)> = vec![
        // The picture is valid: accepted without the chunk, which is never inflated.
        ("iCCP", samples::png_iccp_bomb(INFLATED), 201, None),
        ("zTXt", samples::png_ztxt_bomb(INFLATED), 201, None),
        ("iTXt", samples::png_itxt_bomb(INFLATED), 201, None),
        (
            "iCCP behind a 20000 px header",
            huge_header_iccp,
            422,
            Some("image_too_large"),
        ),
        // 600 MiB of image data for a 200×200 picture: the rows, then what is never used.
        ("IDAT", samples::png_idat_bomb(200, INFLATED), 201, None),
        (
            "JPEG claiming 65000 px",
            samples::jpeg_claiming(65_000, 65_000),
            422,
            Some("image_too_large"),
        ),
        (
            "JPEG claiming 4000 px",
            samples::jpeg_claiming(4_000, 4_000),
            422,
            Some("image_corrupt"),
        ),
        (
            "WebP claiming 16383 px",
            samples::webp_claiming(16_383, 16_383),
            422,
            Some("image_too_large"),
        ),
        (
            "16-bit 4096 px PNG",
            samples::png16(4096),
            422,
            Some("image_too_large"),
        ),
    ];
    let measured = reset_peak();
    for (kind, bomb, status, code) in cases {
        assert!(bomb.len() <= 5 * MIB, "{kind}: {} bytes", bomb.len());
        let token = token();
        reset_peak();
        let before = status_kib("VmRSS:").unwrap_or(0) * 1024;
        let started = Instant::now();
        let r = upload(&th, &token, &bomb).await;
        let took = started.elapsed();
        let peak = status_kib("VmHWM:").unwrap_or(0) * 1024;
        let grew = peak.saturating_sub(before);
        eprintln!(
            "{kind}: {} bytes -> {} in {took:?}, peak +{} MiB",
            bomb.len(),
            r.status,
            grew / MIB as u64
        );
        assert_eq!(
            r.status,
            status,
            "{kind}: {}",
            String::from_utf8_lossy(&r.body)
        );
        if let Some(code) = code {
            assert_eq!(r.json()["code"], code, "{kind}");
        }
        assert!(took < TIME_BOUND, "{kind}: answered after {took:?}");
        if measured {
            assert!(
                grew < PEAK_BOUND,
                "{kind}: the peak grew by {} MiB",
                grew / MIB as u64
            );
        }
    }

    // Five at once from five operators: two decode at a time, and the peak stays bounded.
    let bombs: Vec<(String, Vec<u8>)> = (0..5)
        .map(|_| (token(), samples::png_iccp_bomb(INFLATED)))
        .collect();
    reset_peak();
    let before = status_kib("VmRSS:").unwrap_or(0) * 1024;
    let started = Instant::now();
    let answers =
        futures_util::future::join_all(bombs.iter().map(|(t, b)| upload(&th, t, b))).await;
    let took = started.elapsed();
    let grew = (status_kib("VmHWM:").unwrap_or(0) * 1024).saturating_sub(before);
    eprintln!(
        "five iCCP bombs at once: {:?} in {took:?}, peak +{} MiB",
        answers.iter().map(|r| r.status).collect::<Vec<_>>(),
        grew / MIB as u64
    );
    assert!(answers.iter().all(|r| r.status == 201));
    assert!(took < TIME_BOUND * 2, "{took:?}");
    if measured {
        // Five bodies of about 4 MiB each are held too.
        assert!(grew < PEAK_BOUND * 2, "grew by {} MiB", grew / MIB as u64);
    }
}
