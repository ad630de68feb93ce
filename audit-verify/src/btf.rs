//! Struct member offsets from the kernel's BTF (/sys/kernel/btf/vmlinux).
//!
//! aya's eBPF side has no CO-RE relocations, so the sensors read task fields at offsets we look up here at
//! load time and pass in as globals. aya-obj parses BTF but keeps type access crate-private; this reads
//! only what offsets need: the header, the type section and the string section.
//!
//! [`KernelBtf`] is the kernel's BTF read once per run and parsed by both readers: ours for offsets, aya's
//! for what aya needs it for (loading fentry/fexit programs, finding a function's BTF id).

use std::{fs, io, path::Path};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BtfError {
    #[error("reading {path}")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("malformed BTF: {0}")]
    Malformed(&'static str),
    #[error("no struct `{0}` in kernel BTF")]
    NoStruct(String),
    #[error("struct `{strukt}` has no member `{member}`")]
    NoMember { strukt: String, member: String },
}

/// Where the running kernel exposes its BTF.
pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// The running kernel's BTF, read once, in both parsed forms.
pub struct KernelBtf {
    /// Member offsets (this module's reader).
    pub offsets: Btf,
    /// aya's reader: `None` when aya refuses the blob, which only its users (fentry, BTF ids) notice.
    pub aya: Option<aya::Btf>,
}

impl KernelBtf {
    /// # Errors
    ///
    /// As [`KernelBtf::load`], for `/sys/kernel/btf/vmlinux`.
    pub fn from_sys_fs() -> Result<Self, BtfError> {
        Self::load(Path::new(VMLINUX))
    }

    /// # Errors
    ///
    /// When `path` cannot be read, or is not BTF we can parse.
    pub fn load(path: &Path) -> Result<Self, BtfError> {
        let data = fs::read(path).map_err(|source| BtfError::Read { path: path.display().to_string(), source })?;
        let aya = aya::Btf::parse(&data, aya::Endianness::default())
            .inspect_err(|e| log::info!("aya cannot parse {}: {e}", path.display()))
            .ok();
        Ok(Self { offsets: Btf::parse(data)?, aya })
    }
}

impl std::fmt::Debug for KernelBtf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelBtf").field("types", &self.offsets.types.len()).finish_non_exhaustive()
    }
}

const BTF_MAGIC: u16 = 0xeb9f;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;

/// A parsed BTF blob: just enough to walk types by index.
pub struct Btf {
    data: Vec<u8>,
    types: std::ops::Range<usize>,
    strings: std::ops::Range<usize>,
    /// Where each type starts, by type id - 1, walked once at parse; `None` when a type of unknown kind
    /// stops the walk (then every lookup says so).
    starts: Option<Vec<usize>>,
}

impl Btf {
    /// # Errors
    ///
    /// When `data` is not little-endian BTF, or its header or sections run past its end.
    pub fn parse(data: Vec<u8>) -> Result<Self, BtfError> {
        let u32_at = |at: usize| data.get(at..).and_then(<[u8]>::first_chunk).copied().map(u32::from_le_bytes);
        if data.get(0..2).map(|b| u16::from_le_bytes([b[0], b[1]])) != Some(BTF_MAGIC) {
            return Err(BtfError::Malformed("bad magic (or not little-endian)"));
        }
        let header = u32_at(4).ok_or(BtfError::Malformed("short header"))? as usize;
        let field = |i: usize| u32_at(8 + 4 * i).map(|v| v as usize).ok_or(BtfError::Malformed("short header"));
        let (type_off, type_len, str_off, str_len) = (field(0)?, field(1)?, field(2)?, field(3)?);
        let types = header + type_off..header + type_off + type_len;
        let strings = header + str_off..header + str_off + str_len;
        if types.end > data.len() || strings.end > data.len() {
            return Err(BtfError::Malformed("sections past the end"));
        }
        let mut btf = Self { data, types, strings, starts: None };
        btf.starts = btf.type_starts();
        Ok(btf)
    }

    fn u32(&self, at: usize) -> Option<u32> {
        self.data.get(at..).and_then(<[u8]>::first_chunk).copied().map(u32::from_le_bytes)
    }

    fn name(&self, offset: u32) -> &str {
        let start = self.strings.start + offset as usize;
        let bytes = self.data.get(start..self.strings.end).unwrap_or(&[]);
        let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
        std::str::from_utf8(&bytes[..end]).unwrap_or("")
    }

    /// Byte offset of `member` in `struct strukt`, also where it sits in an anonymous struct or union
    /// member (as `mm_struct`'s fields do, inside their `__randomize_layout` block).
    ///
    /// # Errors
    ///
    /// When the struct or its member is not in the BTF, or the BTF has a type of a kind unknown here.
    pub fn member_offset(&self, strukt: &str, member: &str) -> Result<u32, BtfError> {
        let starts = self.starts.as_deref().ok_or(BtfError::Malformed("unknown type kind"))?;
        let mut found_struct = false;
        for &at in starts {
            let (name_off, info) = (self.u32(at).unwrap_or(0), self.u32(at + 4).unwrap_or(0));
            let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
            if (kind == KIND_STRUCT || kind == KIND_UNION) && self.name(name_off) == strukt && vlen > 0 {
                found_struct = true;
                if let Some(bits) = self.find_member(starts, at, member, 0) {
                    return Ok(bits / 8);
                }
            }
        }
        if found_struct {
            Err(BtfError::NoMember { strukt: strukt.into(), member: member.into() })
        } else {
            Err(BtfError::NoStruct(strukt.into()))
        }
    }

    /// Where each type starts, by type id - 1; `None` at a type of unknown kind.
    fn type_starts(&self) -> Option<Vec<usize>> {
        let mut starts = Vec::new();
        let mut at = self.types.start;
        while at + 12 <= self.types.end {
            starts.push(at);
            let info = self.u32(at + 4).unwrap_or(0);
            let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
            at += 12 + trailing_len(kind, vlen)?;
        }
        Some(starts)
    }

    /// Bit offset of `member` in the struct or union at `at`, looking into its anonymous members.
    fn find_member(&self, starts: &[usize], at: usize, member: &str, depth: u32) -> Option<u32> {
        let info = self.u32(at + 4)?;
        let (kind, vlen, kind_flag) = ((info >> 24) & 0x1f, (info & 0xffff) as usize, info >> 31);
        if !(kind == KIND_STRUCT || kind == KIND_UNION) || depth > 4 {
            return None;
        }
        let members = (0..vlen).map(|i| at + 12 + i * 12);
        // With kind_flag, the low 24 bits are the bit offset (the high 8 a bitfield size).
        let offset = |m: usize| self.u32(m + 8).map(|raw| if kind_flag == 1 { raw & 0x00ff_ffff } else { raw });
        if let Some(m) = members.clone().find(|m| self.name(self.u32(*m).unwrap_or(0)) == member) {
            return offset(m);
        }
        members.filter(|m| self.u32(*m) == Some(0)).find_map(|m| {
            let inner = *starts.get((self.u32(m + 4)? as usize).checked_sub(1)?)?;
            Some(offset(m)? + self.find_member(starts, inner, member, depth + 1)?)
        })
    }
}

/// Bytes that follow the 12-byte `btf_type` header for each kind (include/uapi/linux/btf.h).
#[expect(clippy::match_same_arms, reason = "one arm per BTF kind, in btf.h's order, so each can be checked against it")]
fn trailing_len(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        1 => 4,                    // INT
        3 => 12,                   // ARRAY
        4 | 5 => vlen * 12,        // STRUCT, UNION
        6 => vlen * 8,             // ENUM
        13 => vlen * 8,            // FUNC_PROTO
        14 => 4,                   // VAR
        15 => vlen * 12,           // DATASEC
        17 => 4,                   // DECL_TAG
        19 => vlen * 12,           // ENUM64
        2 | 7..=12 | 16 | 18 => 0, // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_task_and_cred_members_in_this_kernel() {
        let Ok(kernel) = KernelBtf::from_sys_fs() else {
            eprintln!("skipped: no /sys/kernel/btf/vmlinux on this kernel");
            return;
        };
        assert!(kernel.aya.is_some(), "aya parses the same blob");
        let btf = kernel.offsets;
        let loginuid = btf.member_offset("task_struct", "loginuid").unwrap();
        let cred = btf.member_offset("task_struct", "cred").unwrap();
        assert!(loginuid > 0 && cred > 0 && loginuid != cred);
        assert_eq!(btf.member_offset("cred", "usage").unwrap(), 0, "usage is cred's first member");
        assert!(btf.member_offset("cred", "euid").unwrap() > 0);
        assert!(matches!(btf.member_offset("task_struct", "no_such_member"), Err(BtfError::NoMember { .. })));
        assert!(matches!(btf.member_offset("no_such_struct_x", "a"), Err(BtfError::NoStruct(_))));
        // Inside mm_struct's anonymous block: after the mmap tree, in the order the kernel declares them.
        let (start, end) =
            (btf.member_offset("mm_struct", "arg_start").unwrap(), btf.member_offset("mm_struct", "arg_end").unwrap());
        assert_eq!(end, start + 8, "arg_end follows arg_start");
        assert!(btf.member_offset("mm_struct", "exe_file").unwrap() > 0);
    }

    #[test]
    fn junk_is_an_error_not_a_panic() {
        assert!(Btf::parse(vec![]).is_err());
        assert!(Btf::parse(vec![0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255]).is_err());
        let mut header = vec![0x9f, 0xeb, 1, 0, 24, 0, 0, 0];
        header.extend([0u8; 16]);
        let btf = Btf::parse(header).unwrap();
        assert!(btf.member_offset("x", "y").is_err());
    }
}
