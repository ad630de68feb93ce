//! Finds BPF programs that are not ours attached to the kernel's audit functions: the technique used to
//! drop or rewrite audit records before they are written (kprobe/fentry on `audit_log_*`, `kauditd_*`,
//! `audit_filter*`).
//!
//! aya's `LinkInfo` exposes only the link type, not its target, so this speaks `bpf(2)` directly:
//! - every perf-event or link fd held by a process, queried with `BPF_TASK_FD_QUERY` (how `bpftool perf`
//!   finds kprobes, including legacy attachments that have no link);
//! - every BPF link (`BPF_LINK_GET_NEXT_ID`), which also finds pinned links no process holds: tracing links
//!   (`fentry/fexit/fmod_ret`) by their BTF target, perf-event kprobe links by name (kernels 6.6+ report
//!   it), `kprobe_multi` links by address;
//! - the kernel's kprobe registry (debugfs `kprobes/list`), for what the above cannot name: a kprobe
//!   attached through a perf link on kernels before 6.6 (how aya and libbpf attach), whose link hides its
//!   target and whose fd `BPF_TASK_FD_QUERY` refuses. The registry names the function, not the program:
//!   the loaded kprobe-type programs are given as the candidates. (Found in the QEMU VM on Linux 6.1.)

use std::{collections::BTreeMap, fs, io, os::fd::RawFd};

use aya::Btf;
use aya_obj::btf::BtfKind;
use serde::Serialize;

use crate::kallsyms::{AuditSymbols, base_name, is_audit_function};

/// One BPF program attached to an audit function.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Attachment {
    pub function: String,
    /// kprobe, kretprobe, fentry, fexit, `fmod_ret`, `kprobe_multi`.
    pub kind: &'static str,
    /// `None` when only the kernel's kprobe registry saw it (see `candidates`).
    pub program_id: Option<u32>,
    pub program_name: Option<String>,
    /// The process holding the attachment; `None` for a pinned link or a registry entry.
    pub holder_pid: Option<u32>,
    pub holder_comm: Option<String>,
    /// How it was found: `process fd`, `bpf link`, `kprobe registry`.
    pub found_by: &'static str,
    /// For a registry entry: the loaded kprobe-type programs, one of which is attached.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
}

/// Scans the host. `own_pid`'s attachments are not reported.
///
/// # Errors
///
/// When `/proc/kallsyms` or `/proc` cannot be read.
pub fn scan(own_pid: u32, btf: Option<&Btf>) -> io::Result<Vec<Attachment>> {
    let symbols = AuditSymbols::load()?;
    let mut found = BTreeMap::new();
    for a in scan_process_fds(own_pid, &symbols)?.into_iter().chain(scan_links(&symbols, btf)) {
        // One attachment is often seen twice (link fd and perf fd); keep the one naming a holder.
        let key = (a.program_id, a.function.clone(), a.kind);
        let keep = found.get(&key).is_none_or(|old: &Attachment| old.holder_pid.is_none());
        if keep {
            found.insert(key, a);
        }
    }
    let mut out: Vec<Attachment> = found.into_values().filter(|a| a.holder_pid != Some(own_pid)).collect();
    for a in &mut out {
        a.program_name = a.program_id.and_then(program_name);
    }
    // What the registry shows that nothing above named.
    for entry in registry_kprobes(&symbols) {
        if !out.iter().any(|a| a.function == entry.function && a.kind == entry.kind) {
            out.push(entry);
        }
    }
    out.sort();
    Ok(out)
}

/// `BPF_PROG_TYPE_KPROBE`.
const BPF_PROG_TYPE_KPROBE: u32 = 2;

/// Active kprobes on audit functions in the kernel's registry, with the loaded kprobe programs as the
/// candidates. Empty where the kernel has no kprobes (no registry) or debugfs cannot be had.
fn registry_kprobes(symbols: &AuditSymbols) -> Vec<Attachment> {
    let Ok(debugfs) = crate::tracefs::Debugfs::ensure() else { return Vec::new() };
    let Ok(list) = fs::read_to_string(debugfs.root().join("kprobes/list")) else { return Vec::new() };
    let entries = parse_kprobe_list(&list);
    if entries.is_empty() {
        return Vec::new();
    }
    let candidates: Vec<String> = aya::programs::loaded_programs()
        .flatten()
        .filter(|p| p.program_type() as u32 == BPF_PROG_TYPE_KPROBE)
        .map(|p| format!("{} ({})", p.id(), p.name_as_str().unwrap_or("unnamed")))
        .collect();
    entries
        .into_iter()
        .filter(|(function, _)| is_audit_function(function) && !symbols.is_empty())
        .map(|(function, kind)| Attachment {
            function,
            kind,
            program_id: None,
            program_name: None,
            holder_pid: None,
            holder_comm: None,
            found_by: "kprobe registry",
            candidates: candidates.clone(),
        })
        .collect()
}

/// `ffffffff8146a4f0  k  audit_log_start+0x0    [FTRACE]` → (`audit_log_start`, `kprobe`); disabled and
/// gone probes are left out.
fn parse_kprobe_list(text: &str) -> Vec<(String, &'static str)> {
    text.lines()
        .filter(|l| !l.contains("[DISABLED]") && !l.contains("[GONE]"))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let (_address, kind, target) = (words.next()?, words.next()?, words.next()?);
            let kind = match kind {
                "k" => "kprobe",
                "r" => "kretprobe",
                _ => return None,
            };
            Some((target.split('+').next()?.to_owned(), kind))
        })
        .collect()
}

const BPF_OBJ_GET_INFO_BY_FD: i64 = 15;
const BPF_PROG_GET_FD_BY_ID: i64 = 13;
const BPF_TASK_FD_QUERY: i64 = 20;
const BPF_LINK_GET_FD_BY_ID: i64 = 30;
const BPF_LINK_GET_NEXT_ID: i64 = 31;

const BPF_FD_TYPE_KPROBE: u32 = 2;
const BPF_FD_TYPE_KRETPROBE: u32 = 3;

const BPF_LINK_TYPE_TRACING: u32 = 2;
const BPF_LINK_TYPE_PERF_EVENT: u32 = 7;
const BPF_LINK_TYPE_KPROBE_MULTI: u32 = 8;

const BPF_TRACE_FENTRY: u32 = 24;
const BPF_TRACE_FEXIT: u32 = 25;
const BPF_MODIFY_RETURN: u32 = 26;

const BPF_PERF_EVENT_KPROBE: u32 = 1;
const BPF_PERF_EVENT_KRETPROBE: u32 = 2;

/// Large enough for every `bpf_attr` variant used here; the kernel requires unused bytes to be zero.
#[repr(C, align(8))]
#[derive(Default)]
struct Attr([u32; 16]);

fn bpf(cmd: i64, attr: &mut Attr) -> io::Result<i64> {
    // SAFETY: `attr` is a zero-initialised, 8-aligned buffer of the size passed, valid for the call.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, std::ptr::from_mut::<Attr>(attr), size_of::<Attr>()) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(rc) }
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "the kernel returns a file descriptor, an int, in the syscall's long"
)]
fn owned_fd(fd: i64) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: `fd` was just returned by the kernel for us and nothing else owns it.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as RawFd) }
}

#[expect(clippy::cast_possible_truncation, reason = "splitting a u64 into its low and high 32-bit words is the point")]
fn set_u64(attr: &mut Attr, word: usize, value: u64) {
    attr.0[word] = value as u32;
    attr.0[word + 1] = (value >> 32) as u32;
}

/// `BPF_OBJ_GET_INFO_BY_FD` into `info`.
#[expect(clippy::cast_possible_truncation, reason = "the size of a 128-byte info buffer")]
fn object_info(fd: &std::os::fd::OwnedFd, info: &mut [u64]) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut attr = Attr::default();
    attr.0[0] = fd.as_raw_fd().cast_unsigned();
    attr.0[1] = size_of_val(info) as u32;
    set_u64(&mut attr, 2, info.as_mut_ptr() as u64);
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr).map(drop)
}

fn program_name(id: u32) -> Option<String> {
    let mut attr = Attr::default();
    attr.0[0] = id;
    let fd = owned_fd(bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).ok()?);
    // struct bpf_prog_info: name[16] at byte 64.
    let mut info = [0u64; 32];
    object_info(&fd, &mut info).ok()?;
    let bytes: Vec<u8> = info[8..10].iter().flat_map(|w| w.to_ne_bytes()).take_while(|b| *b != 0).collect();
    (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned())
}

/// `BPF_TASK_FD_QUERY` on every perf-event and BPF-link fd of every process.
fn scan_process_fds(own_pid: u32, symbols: &AuditSymbols) -> io::Result<Vec<Attachment>> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if pid == own_pid {
            continue;
        }
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else { continue }; // exited, or a kernel thread
        for fd in fds.flatten() {
            let Ok(target) = fs::read_link(fd.path()) else { continue };
            let target = target.to_string_lossy();
            // The kernel names link fds `bpf_link` (older kernels `bpf-link`).
            if !matches!(target.as_ref(), "anon_inode:[perf_event]" | "anon_inode:bpf_link" | "anon_inode:bpf-link") {
                continue;
            }
            let Some(fd_num) = fd.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            if let Some(a) = query_task_fd(pid, fd_num, symbols) {
                out.push(a);
            }
        }
    }
    Ok(out)
}

#[expect(clippy::cast_possible_truncation, reason = "the length of a 256-byte name buffer")]
fn query_task_fd(pid: u32, fd: u32, symbols: &AuditSymbols) -> Option<Attachment> {
    let mut name = [0u8; 256];
    let mut attr = Attr::default();
    attr.0[0] = pid;
    attr.0[1] = fd;
    attr.0[3] = name.len() as u32;
    set_u64(&mut attr, 4, name.as_mut_ptr() as u64);
    bpf(BPF_TASK_FD_QUERY, &mut attr).ok()?; // not a BPF attachment, or gone
    let (program_id, fd_type) = (attr.0[6], attr.0[7]);
    let probe_addr = u64::from(attr.0[10]) | (u64::from(attr.0[11]) << 32);
    let kind = match fd_type {
        BPF_FD_TYPE_KPROBE => "kprobe",
        BPF_FD_TYPE_KRETPROBE => "kretprobe",
        _ => return None,
    };
    let named = String::from_utf8_lossy(&name[..name.iter().position(|b| *b == 0).unwrap_or(0)]).into_owned();
    let function = if named.is_empty() { symbols.at(probe_addr)?.to_owned() } else { named };
    is_audit_function(&function).then(|| Attachment {
        function,
        kind,
        program_id: Some(program_id),
        program_name: None,
        holder_pid: Some(pid),
        holder_comm: fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim().to_owned()),
        found_by: "process fd",
        candidates: Vec::new(),
    })
}

/// Every BPF link on the host, by ID.
fn scan_links(symbols: &AuditSymbols, btf: Option<&Btf>) -> Vec<Attachment> {
    // BTF ids of the audit functions, to recognise a tracing link's target.
    let btf_ids: BTreeMap<u32, String> = match btf {
        Some(btf) => symbols
            .base_names()
            .filter_map(|n| Some((btf.id_by_type_name_kind(n, BtfKind::Func).ok()?, n.to_owned())))
            .collect(),
        None => BTreeMap::new(),
    };
    let mut out = Vec::new();
    let mut id = 0;
    loop {
        let mut attr = Attr::default();
        attr.0[0] = id;
        if bpf(BPF_LINK_GET_NEXT_ID, &mut attr).is_err() {
            break; // ENOENT: no more links
        }
        id = attr.0[1];
        let mut attr = Attr::default();
        attr.0[0] = id;
        let Ok(fd) = bpf(BPF_LINK_GET_FD_BY_ID, &mut attr).map(owned_fd) else { continue };
        out.extend(link_attachment(&fd, symbols, &btf_ids));
    }
    out
}

/// Decodes the `struct bpf_link_info` union for the link types that can hook a kernel function.
#[expect(clippy::cast_possible_truncation, reason = "splitting a u64 into its low and high 32-bit words is the point")]
fn link_attachment(
    fd: &std::os::fd::OwnedFd,
    symbols: &AuditSymbols,
    btf_ids: &BTreeMap<u32, String>,
) -> Vec<Attachment> {
    // Words of u64: [0] type|id, [1] prog_id|pad, [2..] the union.
    let mut info = [0u64; 16];
    if object_info(fd, &mut info).is_err() {
        return Vec::new();
    }
    let lo = |w: u64| w as u32;
    let (link_type, program_id) = (lo(info[0]), lo(info[1]));
    let attachment = |function: String, kind| Attachment {
        function,
        kind,
        program_id: Some(program_id),
        program_name: None,
        holder_pid: None,
        holder_comm: None,
        found_by: "bpf link",
        candidates: Vec::new(),
    };
    match link_type {
        // tracing { attach_type, target_obj_id, target_btf_id }
        BPF_LINK_TYPE_TRACING => {
            let kind = match lo(info[2]) {
                BPF_TRACE_FENTRY => "fentry",
                BPF_TRACE_FEXIT => "fexit",
                BPF_MODIFY_RETURN => "fmod_ret",
                _ => return Vec::new(),
            };
            btf_ids.get(&lo(info[3])).map(|f| attachment(f.clone(), kind)).into_iter().collect()
        }
        // perf_event { type, pad, kprobe { func_name ptr, name_len, offset, addr } }
        BPF_LINK_TYPE_PERF_EVENT => {
            let kind = match lo(info[2]) {
                BPF_PERF_EVENT_KPROBE => "kprobe",
                BPF_PERF_EVENT_KRETPROBE => "kretprobe",
                _ => return Vec::new(),
            };
            let mut name = [0u8; 256];
            let mut info = [0u64; 16];
            info[3] = name.as_mut_ptr() as u64;
            info[4] = name.len() as u64;
            if object_info(fd, &mut info).is_err() {
                return Vec::new();
            }
            let named = String::from_utf8_lossy(&name[..name.iter().position(|b| *b == 0).unwrap_or(0)]).into_owned();
            let function = if named.is_empty() { symbols.at(info[5]).map(str::to_owned) } else { Some(named) };
            function.filter(|f| is_audit_function(f)).map(|f| attachment(f, kind)).into_iter().collect()
        }
        // kprobe_multi { addrs ptr, count, flags }
        BPF_LINK_TYPE_KPROBE_MULTI => {
            let count = lo(info[3]) as usize;
            let mut addrs = vec![0u64; count];
            let mut info = [0u64; 16];
            info[2] = addrs.as_mut_ptr() as u64;
            info[3] = count as u64;
            if count == 0 || object_info(fd, &mut info).is_err() {
                return Vec::new();
            }
            addrs
                .iter()
                .filter_map(|a| symbols.at(*a))
                .map(|f| attachment(base_name(f).to_owned(), "kprobe_multi"))
                .collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_kprobe_list;

    #[test]
    fn reads_the_kprobe_registry() {
        let list = "ffffffff8146a4f0  k  audit_log_start+0x0    [FTRACE]\n\
                    ffffffff8146a500  r  kauditd_send_queue+0x0    \n\
                    ffffffff81000000  k  vfs_read+0x4    [DISABLED]\n\
                    ffffffffc0000000  k  some_module_fn+0x0  [mod]  [GONE]\n";
        assert_eq!(
            parse_kprobe_list(list),
            [("audit_log_start".to_owned(), "kprobe"), ("kauditd_send_queue".to_owned(), "kretprobe")]
        );
    }
}
