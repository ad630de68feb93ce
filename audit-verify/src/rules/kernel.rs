//! Decodes `struct audit_rule_data` (include/uapi/linux/audit.h) as `AUDIT_LIST_RULES` returns it:
//! flags, action, `field_count`, `mask[64]`, `fields[64]`, `values[64]`, `fieldflags[64]`, `buflen`, `buf`. String
//! fields carry their length in `values[i]`; their bytes follow one another in `buf`, in field order.
//! [`encode`] writes the same layout, for `AUDIT_ADD_RULE`: a rule auditctl cannot write (an
//! `io_uring` rule with auditctl 3.0.9) can be loaded in this form, as `tests/cover.rs` loads one.

use thiserror::Error;

use super::{Action, Field, FilterList, MASK_WORDS, Op, Rule, Value, fields};
use crate::netlink::RawRule;

const MAX_FIELDS: usize = 64;
const AUDIT_FILTER_PREPEND: u32 = 0x10;
const HEADER_WORDS: usize = 3 + MASK_WORDS + 3 * MAX_FIELDS + 1;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("rule data of {0} bytes is shorter than the fixed part")]
    Short(usize),
    #[error("unknown filter list {0}")]
    List(u32),
    #[error("unknown action {0}")]
    Action(u32),
    #[error("{0} fields, more than the kernel's 64")]
    TooManyFields(u32),
    #[error("field {index} (id {id}) has unknown operator {code:#x}")]
    Op { index: usize, id: u32, code: u32 },
    #[error("string of field {index} runs past the rule's buffer")]
    StringOverrun { index: usize },
}

/// # Errors
///
/// When the rule is shorter than its fixed part, has more than 64 fields, names an unknown list, action or
/// operator, or a string runs past the buffer.
#[expect(
    clippy::missing_panics_doc,
    reason = "`word` reads only header words, and the header's length is checked first"
)]
pub fn decode(raw: &RawRule) -> Result<Rule, DecodeError> {
    let bytes = raw.as_bytes();
    if bytes.len() < HEADER_WORDS * 4 {
        return Err(DecodeError::Short(bytes.len()));
    }
    let word = |i: usize| u32::from_ne_bytes(bytes[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
    let flags = word(0);
    let list = FilterList::try_from(flags & !AUDIT_FILTER_PREPEND).map_err(DecodeError::List)?;
    let action = Action::try_from(word(1)).map_err(DecodeError::Action)?;
    let count = word(2);
    if count as usize > MAX_FIELDS {
        return Err(DecodeError::TooManyFields(count));
    }
    let mut rule = Rule::new(list, action);
    for (i, m) in rule.mask.iter_mut().enumerate() {
        *m = word(3 + i);
    }
    let (ids, values, ops) = (3 + MASK_WORDS, 3 + MASK_WORDS + MAX_FIELDS, 3 + MASK_WORDS + 2 * MAX_FIELDS);
    let buf = &bytes[HEADER_WORDS * 4..];
    let mut offset = 0usize;
    for index in 0..count as usize {
        let (id, value, code) = (word(ids + index), word(values + index), word(ops + index));
        let op = Op::from_code(code).ok_or(DecodeError::Op { index, id, code })?;
        let value = if fields::is_string(id) {
            let end = offset.checked_add(value as usize).filter(|e| *e <= buf.len());
            let end = end.ok_or(DecodeError::StringOverrun { index })?;
            let s = String::from_utf8_lossy(&buf[offset..end]).into_owned();
            offset = end;
            Value::Str(s)
        } else {
            Value::Num(value)
        };
        rule.fields.push(Field { id, op, value });
    }
    Ok(rule)
}

/// `struct audit_rule_data` for `rule`, as [`decode`] reads it and the kernel's `AUDIT_ADD_RULE` takes it.
#[must_use]
#[expect(
    clippy::cast_possible_truncation,
    reason = "at most 64 fields (the kernel refuses more), and strings the kernel bounds to PATH_MAX"
)]
pub fn encode(rule: &Rule) -> RawRule {
    let mut words = vec![0u32; HEADER_WORDS];
    words[0] = rule.list as u32;
    words[1] = rule.action as u32;
    words[2] = rule.fields.len() as u32;
    words[3..3 + MASK_WORDS].copy_from_slice(&rule.mask);
    let mut buf = Vec::new();
    for (i, field) in rule.fields.iter().enumerate().take(MAX_FIELDS) {
        words[3 + MASK_WORDS + i] = field.id;
        words[3 + MASK_WORDS + MAX_FIELDS + i] = match &field.value {
            Value::Num(n) => *n,
            Value::Str(s) => {
                buf.extend_from_slice(s.as_bytes());
                s.len() as u32
            }
        };
        words[3 + MASK_WORDS + 2 * MAX_FIELDS + i] = field.op.code();
    }
    words[HEADER_WORDS - 1] = buf.len() as u32;
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    bytes.extend(buf);
    RawRule::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds rule data the way the kernel lays it out.
    #[expect(clippy::cast_possible_truncation, reason = "test data: a few fields and short strings")]
    fn encode(list: u32, action: u32, mask_bits: &[u32], fields: &[(u32, u32, &str, u32)]) -> RawRule {
        let mut words = vec![0u32; HEADER_WORDS];
        words[0] = list;
        words[1] = action;
        words[2] = fields.len() as u32;
        for nr in mask_bits {
            words[3 + *nr as usize / 32] |= 1 << (nr % 32);
        }
        let mut buf = Vec::new();
        for (i, (id, op, s, n)) in fields.iter().enumerate() {
            words[3 + MASK_WORDS + i] = *id;
            words[3 + MASK_WORDS + MAX_FIELDS + i] = if s.is_empty() { *n } else { s.len() as u32 };
            words[3 + MASK_WORDS + 2 * MAX_FIELDS + i] = *op;
            buf.extend_from_slice(s.as_bytes());
        }
        words[HEADER_WORDS - 1] = buf.len() as u32;
        let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        bytes.extend(buf);
        RawRule::from_bytes(bytes)
    }

    #[test]
    fn decodes_numbers_and_strings_in_order() {
        let eq = Op::Eq.code();
        let raw = encode(
            4 | AUDIT_FILTER_PREPEND,
            2,
            &[59],
            &[
                (11, eq, "", fields::ARCH_B64),
                (112, eq, "/usr/bin/x", 0),
                (9, Op::Ge.code(), "", 1000),
                (210, eq, "k", 0),
            ],
        );
        let rule = decode(&raw).unwrap();
        assert_eq!((rule.list, rule.action), (FilterList::Exit, Action::Always));
        assert!(rule.has_syscall(59));
        assert_eq!(rule.fields[1].value, Value::Str("/usr/bin/x".into()));
        assert_eq!(rule.fields[2], Field { id: 9, op: Op::Ge, value: Value::Num(1000) });
        assert_eq!(rule.key(), Some("k"));
    }

    #[test]
    fn bad_data_is_an_error_not_a_panic() {
        assert_eq!(decode(&RawRule::from_bytes(vec![0; 10])), Err(DecodeError::Short(10)));
        let mut raw = encode(4, 2, &[], &[(210, Op::Eq.code(), "key", 0)]).as_bytes().to_vec();
        raw.truncate(raw.len() - 1);
        assert_eq!(decode(&RawRule::from_bytes(raw)), Err(DecodeError::StringOverrun { index: 0 }));
        assert_eq!(decode(&encode(9, 2, &[], &[])), Err(DecodeError::List(9)));
        assert!(matches!(decode(&encode(4, 2, &[], &[(1, 0x1234, "", 0)])), Err(DecodeError::Op { .. })));
    }

    /// What `encode` writes, `decode` reads back as the same rule: an `io_uring` rule with a key, and an
    /// exit rule with numbers and strings.
    #[test]
    fn encode_round_trips_through_decode() {
        use crate::rules::parse::{Command, parse_line};
        let mut uring = Rule::new(FilterList::IoUring, Action::Always);
        uring.set_syscall(18);
        uring.fields.push(Field { id: fields::id::FILTERKEY, op: Op::Eq, value: Value::Str("uring".into()) });
        assert_eq!(decode(&super::encode(&uring)), Ok(uring));
        let Ok(Command::Add { rule, .. }) =
            parse_line("-a always,exit -F arch=b64 -S openat -F dir=/etc -F auid>=1000 -k x")
        else {
            panic!("parses")
        };
        assert_eq!(decode(&super::encode(&rule)), Ok(rule));
    }
}
