//! Any bytes given to the line parser, then every field split and decoded: nothing may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

/// The parser's files, as they are in audit-verify (see Cargo.toml for why not the crate itself).
#[allow(dead_code)]
mod auditlog {
    #[path = "../../../audit-verify/src/auditlog/line.rs"]
    pub mod line;
    #[path = "../../../audit-verify/src/auditlog/record_type.rs"]
    pub mod record_type;
}

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = auditlog::line::parse_line(data) {
        let _ = (line.node(), line.header.kind.to_string(), line.header.id.to_string());
        for field in line.fields() {
            let _ = (field.decoded(), field.decoded_lossy());
        }
        let _ = line.field("msg");
    }
});
