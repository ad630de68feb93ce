//! The field vocabulary of audit rules: names, ids and how each field's value is written.
//!
//! Ids, comparisons and errno names are generated at build time from the kernel's uapi headers (record
//! types come from [`crate::auditlog::record_type`]); the names are libaudit's (`auid`, `path`, `key`, `a0` are its aliases for the kernel's
//! `LOGINUID`, `WATCH`, `FILTERKEY`, `ARG0`).

use std::ffi::CString;

use super::{Op, Value};
use crate::auditlog::record_type;

mod tables {
    include!(concat!(env!("OUT_DIR"), "/audit_tables.rs"));
}

/// Field ids used by name, the x86 `AUDIT_ARCH_*` values and "unset": defined with the rule semantics.
pub use audit_verify_common::rule_semantics::{ARCH_B32, ARCH_B64, UNSET, id};

/// libaudit's names for kernel fields whose kernel name differs.
const ALIASES: [(&str, &str); 7] = [
    ("auid", "loginuid"),
    ("path", "watch"),
    ("key", "filterkey"),
    ("a0", "arg0"),
    ("a1", "arg1"),
    ("a2", "arg2"),
    ("a3", "arg3"),
];

/// libaudit's file system names (lib/fstypetab.h), from linux/magic.h.
const FSTYPES: [(&str, u32); 4] =
    [("tracefs", 0x7472_6163), ("debugfs", 0x6462_6720), ("cgroup", 0x0027_e0eb), ("cgroup2", 0x6367_7270)];

const FILETYPES: [(&str, u32); 7] = [
    ("file", libc::S_IFREG),
    ("dir", libc::S_IFDIR),
    ("socket", libc::S_IFSOCK),
    ("link", libc::S_IFLNK),
    ("character", libc::S_IFCHR),
    ("block", libc::S_IFBLK),
    ("fifo", libc::S_IFIFO),
];

/// `AUDIT_PERM_*`: the classes `-p`/`perm=` name.
pub mod perm {
    pub const EXEC: u32 = 1;
    pub const WRITE: u32 = 2;
    pub const READ: u32 = 4;
    pub const ATTR: u32 = 8;
}

/// `AUDIT_PERM_*` by the letter `-p` uses.
pub const PERMS: [(char, u32); 4] = [('x', perm::EXEC), ('w', perm::WRITE), ('r', perm::READ), ('a', perm::ATTR)];

/// The field id for a name as auditctl accepts it.
#[must_use]
pub fn id_of(name: &str) -> Option<u32> {
    let kernel = ALIASES.iter().find(|(alias, _)| *alias == name).map_or(name, |(_, k)| k);
    tables::FIELDS.iter().find(|(n, _)| *n == kernel).map(|(_, id)| *id)
}

/// The name auditctl prints for a field id.
#[must_use]
pub fn name_of(id: u32) -> Option<&'static str> {
    let kernel = tables::FIELDS.iter().find(|(_, i)| *i == id).map(|(n, _)| *n)?;
    Some(ALIASES.iter().find(|(_, k)| *k == kernel).map_or(kernel, |(alias, _)| alias))
}

/// Fields whose value travels as a string in the rule's buffer.
#[must_use]
pub fn is_string(id: u32) -> bool {
    matches!(id, id::WATCH | id::DIR | id::EXE | id::FILTERKEY) || (13..=17).contains(&id) || (19..=23).contains(&id)
}

/// `-C a op b`: the `AUDIT_COMPARE_*` id for the pair, in either order. (The kernel names these with
/// `AUID`, though its field is `LOGINUID`.)
#[must_use]
pub fn comparison(a: &str, b: &str) -> Option<u32> {
    let name = |n: &str| if n == "loginuid" { "auid".to_owned() } else { n.to_owned() };
    let (a, b) = (name(a), name(b));
    tables::COMPARISONS.iter().find(|(x, y, _)| (*x == a && *y == b) || (*x == b && *y == a)).map(|(.., id)| *id)
}

#[must_use]
pub fn comparison_names(id: u32) -> Option<(&'static str, &'static str)> {
    tables::COMPARISONS.iter().find(|(.., i)| *i == id).map(|(a, b, _)| (*a, *b))
}

/// Record type number for a name (`SYSCALL`, `CWD`, `USER_LOGIN`, …) or a number.
#[must_use]
pub fn record_type(name: &str) -> Option<u32> {
    name.parse().ok().or_else(|| record_type::code_of(name))
}

#[must_use]
pub fn record_type_name(value: u32) -> Option<&'static str> {
    record_type::name_of(value)
}

fn errno(name: &str) -> Option<u32> {
    tables::ERRNOS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

#[must_use]
pub fn fstype_name(magic: u32) -> Option<&'static str> {
    FSTYPES.iter().find(|(_, v)| *v == magic).map(|(n, _)| *n)
}

#[must_use]
pub fn errno_name(value: u32) -> Option<&'static str> {
    tables::ERRNOS.iter().find(|(_, v)| *v == value).map(|(n, _)| *n)
}

/// Parses `-p` letters into `AUDIT_PERM_*` bits.
///
/// # Errors
///
/// When a letter is not one of `rwxa`.
pub fn perm_bits(letters: &str) -> Result<u32, String> {
    letters.chars().try_fold(0, |bits, c| {
        PERMS
            .iter()
            .find(|(l, _)| *l == c)
            .map(|(_, b)| bits | b)
            .ok_or_else(|| format!("permission `{c}` is not one of r, w, x, a"))
    })
}

#[must_use]
pub fn perm_letters(bits: u32) -> String {
    ['r', 'w', 'x', 'a'].into_iter().filter(|c| PERMS.iter().any(|(l, b)| l == c && bits & b != 0)).collect()
}

/// Parses the value of field `id` as auditctl does, for the operator `op`.
///
/// # Errors
///
/// When `text` is not a value auditctl accepts for field `id` with `op`.
pub fn parse_value(id: u32, op: Op, text: &str) -> Result<Value, String> {
    let text = text.trim_matches('"');
    if is_string(id) {
        if text.is_empty() {
            return Err("empty value".into());
        }
        return Ok(Value::Str(text.to_owned()));
    }
    let num = match id {
        id::UID | id::EUID | 3 | 4 | id::LOGINUID | 109 => user_id(text)?,
        id::GID | id::EGID | 7 | 8 | 110 => group_id(text)?,
        id::ARCH => arch(text)?,
        id::EXIT => exit_code(text)?,
        id::PERM => perm_bits(text)?,
        id::FILETYPE => FILETYPES
            .iter()
            .find(|(n, _)| *n == text)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("unknown file type `{text}`"))?,
        id::MSGTYPE => record_type(text).ok_or_else(|| format!("unknown record type `{text}`"))?,
        id::FSTYPE => match FSTYPES.iter().find(|(n, _)| *n == text) {
            Some((_, v)) => *v,
            None => number(text)?,
        },
        _ => number(text)?,
    };
    if id == id::ARCH && !matches!(op, Op::Eq | Op::Ne) {
        return Err("arch takes only = or !=".into());
    }
    Ok(Value::Num(num))
}

/// A number as auditctl reads it (C `strtoul`, base 0): `0x` hex, a leading `0` octal (`a2&0100` is
/// 0x40), else decimal; a negative decimal becomes its u32 two's complement, as the kernel stores it.
///
/// # Errors
///
/// When `text` is not a number, or does not fit in 32 bits.
pub fn number(text: &str) -> Result<u32, String> {
    let radix = |digits: &str, radix| u64::from_str_radix(digits, radix).ok().and_then(|v| u32::try_from(v).ok());
    let parsed = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        radix(hex, 16)
    } else if text.len() > 1 && text.starts_with('0') {
        radix(&text[1..], 8)
    } else if let Some(neg) = text.strip_prefix('-') {
        neg.parse::<u32>()
            .ok()
            .filter(|v| i32::try_from(*v).is_ok())
            .map(|v| v.cast_signed().wrapping_neg().cast_unsigned())
    } else {
        text.parse::<u32>().ok()
    };
    parsed.ok_or_else(|| format!("`{text}` is not a number"))
}

fn user_id(text: &str) -> Result<u32, String> {
    if text == "unset" || text == "-1" {
        return Ok(UNSET);
    }
    number(text).or_else(|_| {
        let name = CString::new(text).map_err(|_| format!("bad user name `{text}`"))?;
        // SAFETY: a NUL-terminated name; the result is read before any other passwd call.
        let pw = unsafe { libc::getpwnam(name.as_ptr()) };
        if pw.is_null() { Err(format!("unknown user `{text}`")) } else { Ok(unsafe { (*pw).pw_uid }) }
    })
}

fn group_id(text: &str) -> Result<u32, String> {
    if text == "unset" || text == "-1" {
        return Ok(UNSET);
    }
    number(text).or_else(|_| {
        let name = CString::new(text).map_err(|_| format!("bad group name `{text}`"))?;
        // SAFETY: as in user_id.
        let gr = unsafe { libc::getgrnam(name.as_ptr()) };
        if gr.is_null() { Err(format!("unknown group `{text}`")) } else { Ok(unsafe { (*gr).gr_gid }) }
    })
}

fn arch(text: &str) -> Result<u32, String> {
    match text {
        "b64" | "x86_64" => Ok(ARCH_B64),
        "b32" | "i386" | "i486" | "i586" | "i686" => Ok(ARCH_B32),
        _ => number(text).map_err(|_| format!("unknown arch `{text}` (b64, b32, x86_64, i386)")),
    }
}

/// `-EACCES`, `EACCES`, `-13`, `0`.
fn exit_code(text: &str) -> Result<u32, String> {
    let (negative, name) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    match errno(name) {
        Some(e) if negative => Ok(e.cast_signed().wrapping_neg().cast_unsigned()),
        Some(e) => Ok(e),
        None => number(text).map_err(|_| format!("`{text}` is neither a number nor an errno name")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ids_and_aliases() {
        assert_eq!(id_of("auid"), Some(id::LOGINUID));
        assert_eq!(id_of("loginuid"), Some(id::LOGINUID));
        assert_eq!(id_of("path"), Some(id::WATCH));
        assert_eq!(id_of("key"), Some(id::FILTERKEY));
        assert_eq!(id_of("a2"), Some(202));
        assert_eq!(id_of("exe"), Some(id::EXE));
        assert_eq!(id_of("sessionid"), Some(25));
        assert_eq!(id_of("bogus"), None);
        assert_eq!(name_of(id::LOGINUID), Some("auid"));
        assert_eq!(name_of(id::WATCH), Some("path"));
        assert_eq!(comparison("uid", "euid"), comparison("euid", "uid"));
        assert_eq!(comparison("auid", "obj_uid"), Some(5));
        assert_eq!(comparison_names(5), Some(("auid", "obj_uid")));
    }

    #[test]
    fn values_as_auditctl_writes_them() {
        assert_eq!(parse_value(id::LOGINUID, Op::Ne, "unset"), Ok(Value::Num(UNSET)));
        assert_eq!(parse_value(id::LOGINUID, Op::Ge, "1000"), Ok(Value::Num(1000)));
        assert_eq!(parse_value(id::UID, Op::Eq, "root"), Ok(Value::Num(0)));
        assert_eq!(parse_value(id::EXIT, Op::Eq, "-EACCES"), Ok(Value::Num((-13i32).cast_unsigned())));
        assert_eq!(parse_value(id::EXIT, Op::Eq, "-EPERM"), Ok(Value::Num((-1i32).cast_unsigned())));
        assert_eq!(parse_value(id::ARCH, Op::Eq, "b32"), Ok(Value::Num(ARCH_B32)));
        assert_eq!(parse_value(id::ARG0, Op::Eq, "0x0"), Ok(Value::Num(0)));
        assert_eq!(parse_value(202, Op::BitMask, "0100"), Ok(Value::Num(0x40)), "octal, as strtoul reads it");
        assert!(number("09").is_err(), "not octal");
        assert_eq!(parse_value(id::PERM, Op::Eq, "wa"), Ok(Value::Num(10)));
        assert_eq!(parse_value(id::FILETYPE, Op::Eq, "file"), Ok(Value::Num(libc::S_IFREG)));
        assert_eq!(parse_value(id::MSGTYPE, Op::Eq, "CWD"), Ok(Value::Num(1307)));
        // A user-space type, absent from linux/audit.h: auditctl knows it from libaudit.
        assert_eq!(parse_value(id::MSGTYPE, Op::Eq, "USER_LOGIN"), Ok(Value::Num(1112)));
        assert_eq!(parse_value(id::FSTYPE, Op::Eq, "tracefs"), Ok(Value::Num(0x7472_6163)));
        assert!(parse_value(id::LOGINUID, Op::Eq, "no-such-user-here").is_err());
        assert!(parse_value(id::PERM, Op::Eq, "wz").is_err());
        assert!(parse_value(id::ARCH, Op::Ge, "b64").is_err());
        assert_eq!(perm_letters(10), "wa");
    }
}
