//! The parser's files, as they are in audit-verify (see Cargo.toml for why not the crate itself).

#[path = "../../audit-verify/src/auditlog/line.rs"]
pub mod line;
#[path = "../../audit-verify/src/auditlog/record_type.rs"]
pub mod record_type;
