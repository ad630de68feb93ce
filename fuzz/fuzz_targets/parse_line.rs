//! Any bytes given to the line parser, then every field split and decoded: nothing may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "auditlog_src.rs"]
#[expect(dead_code, reason = "the target uses only the line parser")]
mod auditlog;

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = auditlog::line::parse_line(data) {
        let _ = (line.node(), line.header.kind.to_string(), line.header.id.to_string());
        for field in line.fields() {
            let _ = (field.decoded(), field.decoded_lossy());
        }
        let _ = line.field("msg");
    }
});
