//! Any bytes a socket can deliver, decoded as a widget frame and as an operator frame: the
//! decoder never panics, refuses with a code from the table, accepts only what serde reads as
//! that frame (its fast path for `message` frames included), and what it accepts survives a
//! round trip through its own serialisation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{ErrorCode, OperatorFrame, WidgetFrame};
use protocol::decode::{DecodeError, Limits, operator_frame, widget_frame};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A refusal carries a code from the table; an accepted frame reads back as itself.
fn check_decoded<T>(text: &str, decoded: Result<T, DecodeError>)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    match decoded {
        Ok(frame) => {
            let serde: T = serde_json::from_str(text).expect("accepted frames are serde's");
            assert_eq!(serde, frame);
            let again = serde_json::to_string(&frame).expect("accepted frames serialise");
            let back: T = serde_json::from_str(&again).expect("and read back");
            assert_eq!(back, frame);
        }
        Err(e) => assert!(ErrorCode::ALL.contains(&e.code)),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits {
        max_frame_bytes: 4096,
        max_message_chars: 500,
        max_attachments: 3,
    };
    check_decoded::<WidgetFrame>(text, widget_frame(text, &limits));
    check_decoded::<OperatorFrame>(text, operator_frame(text, &limits));
});
