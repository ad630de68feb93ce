//! Layer 1 of `measure`: what happened, independently of audit. At every syscall exit, the loaded exit
//! rules are evaluated in kernel order as `audit_filter_syscall` does (the first matching rule decides),
//! using what the task holds at that moment: syscall number and ABI, uid, euid, gid, auid, the return
//! value and the first four arguments. A rule with other filters (paths, exe, -C, LSM labels) is opaque:
//! unless one of the conditions we can evaluate fails, a syscall it selects is counted as undecided and
//! evaluation stops, since its real filter may match.
//!
//! Two entry points, one evaluation. `match_rules` sits on the `sys_exit` raw tracepoint and runs for
//! every syscall of the host (about 100 ns each on a retpoline VM, most of it the dispatch itself).
//! `match_rules_per_syscall` is attached to `syscalls:sys_exit_NAME` for each syscall the rules select:
//! the kernel tests its bitmap before running any program, so the syscalls no rule names cost nothing.
//! Those events never fire for 32-bit syscalls, which only the raw tracepoint sees.
//!
//! `predict` loads the same matcher with a candidate rule set and `PREDICT_OFFSETS.enabled`: it then also
//! finds the file a syscall touched where an exit tracepoint can see it (the file an open returned, the
//! program an execve now runs), walks its dentries to its file system's root against the watched inodes
//! (`-w`, `-F path=`, `-F dir=`), and sums per rule what its events would cost to record.

use audit_verify_common::{
    measure::{
        EventCost, Facts, InodeKey, InodeRules, MASK_WORDS, MAX_PATH_DEPTH, MAX_RULES, MAX_WATCHED_INODES,
        OBJECT_KNOWN, PERM_ALL, PERM_EXEC, PredictOffsets, RuleFilter, acc_mode, nr,
    },
    rule_semantics::{ARCH_B32, ARCH_B64, FirstMatch, MASK_BITS, Match, first_match, in_mask},
};
use aya_ebpf::{
    helpers::{
        bpf_get_current_pid_tgid, bpf_get_current_task, bpf_get_current_uid_gid, bpf_probe_read_kernel,
        bpf_probe_read_user, bpf_probe_read_user_str_bytes,
        generated::{bpf_get_current_task_btf, bpf_task_pt_regs},
    },
    macros::{map, raw_tracepoint, tracepoint},
    maps::{Array, HashMap, PerCpuArray},
    programs::{RawTracePointContext, TracePointContext},
};

#[unsafe(no_mangle)]
static RULE_COUNT: u32 = 0;
#[unsafe(no_mangle)]
static TASK_LOGINUID_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
static TASK_CRED_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
static CRED_EUID_OFFSET: u32 = 0;
/// `task_struct.thread_info.status`, where x86 keeps `TS_COMPAT`.
#[unsafe(no_mangle)]
static TASK_STATUS_OFFSET: u32 = 0;
/// Offset of `ret` in `syscalls:sys_exit_*` records on this kernel.
#[unsafe(no_mangle)]
static SYS_EXIT_RET_OFFSET: u32 = 0;

/// `x86_64` `struct pt_regs` is the syscall ABI itself: these offsets do not move between kernels.
const PT_REGS_ORIG_AX: usize = 15 * 8;
const PT_REGS_DI: usize = 14 * 8;
const PT_REGS_SI: usize = 13 * 8;
const PT_REGS_DX: usize = 12 * 8;
const PT_REGS_R10: usize = 7 * 8;
const PT_REGS_SP: usize = 19 * 8;
/// `arch/x86/include/asm/thread_info.h`: a 32-bit syscall is active.
const TS_COMPAT: u32 = 0x0002;

#[map]
static RULE_FILTERS: Array<RuleFilter> = Array::with_max_entries(MAX_RULES, 0);

#[map]
static RULE_HITS: PerCpuArray<u64> = PerCpuArray::with_max_entries(2 * MAX_RULES, 0);

#[unsafe(no_mangle)]
static PREDICT_OFFSETS: PredictOffsets = PredictOffsets {
    enabled: 0,
    task_files: 0,
    files_fdt: 0,
    fdt_fd: 0,
    fdt_max_fds: 0,
    file_dentry: 0,
    dentry_parent: 0,
    dentry_inode: 0,
    dentry_name_len: 0,
    inode_ino: 0,
    inode_sb: 0,
    sb_dev: 0,
    task_mm: 0,
    mm_exe_file: 0,
    mm_arg_start: 0,
    mm_arg_end: 0,
};

#[map]
static WATCHED_INODES: HashMap<InodeKey, InodeRules> = HashMap::with_max_entries(MAX_WATCHED_INODES, 0);

#[map]
static RULE_COSTS: PerCpuArray<EventCost> = PerCpuArray::with_max_entries(MAX_RULES, 0);

#[map]
static NAMES_PER_SYSCALL: Array<u32> = Array::with_max_entries(MASK_BITS, 0);

/// Room for the path string of an open, read only for its length.
#[map]
static PATH_SCRATCH: PerCpuArray<[u8; 256]> = PerCpuArray::with_max_entries(1, 0);

/// `O_CREAT` (include/uapi/asm-generic/fcntl.h), as `creat` implies it.
const O_CREAT: u64 = 0o100;
/// `MAX_PROCTITLE_AUDIT_LEN` (kernel/auditsc.c): what a PROCTITLE record holds of the command line.
const MAX_PROCTITLE: u64 = 128;

/// The union of every counted rule's syscall mask: a syscall outside it leaves after one read.
#[unsafe(no_mangle)]
static ANY_RULE_MASK: [u32; MASK_WORDS] = [0; MASK_WORDS];

#[inline(always)]
fn global(g: &u32) -> u32 {
    unsafe { core::ptr::read_volatile(g) }
}

#[inline(always)]
unsafe fn read<T>(base: *const u8, offset: usize) -> Result<T, i32> {
    unsafe { bpf_probe_read_kernel(base.add(offset).cast::<T>()) }
}

/// Raw tracepoint `sys_exit`, args `(struct pt_regs *regs, long ret)`.
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn match_rules(ctx: RawTracePointContext) -> i32 {
    match try_match_rules(&ctx) {
        Ok(ret) | Err(ret) => ret,
    }
}

#[inline(always)]
fn try_match_rules(ctx: &RawTracePointContext) -> Result<i32, i32> {
    let regs: *const u8 = ctx.arg(0);
    let ret: i64 = ctx.arg(1);
    evaluate(regs, ret, None)
}

/// Tracepoint `syscalls:sys_exit_NAME`, attached once per selected syscall. Always a 64-bit syscall.
#[tracepoint]
pub fn match_rules_per_syscall(ctx: TracePointContext) -> u32 {
    let Ok(ret) = (unsafe { ctx.read_at::<i64>(global(&SYS_EXIT_RET_OFFSET) as usize) }) else { return 0 };
    // SAFETY: helpers with no preconditions; the verifier types both pointers.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as *const u8;
    match evaluate(regs, ret, Some(ARCH_B64)) {
        Ok(_) | Err(_) => 0,
    }
}

/// The rules in kernel order against one syscall exit (`audit_filter_syscall`; the semantics are
/// audit-verify-common's). `arch`: known from the hook, or read from the task.
#[inline(always)]
#[expect(clippy::cast_possible_truncation, reason = "`nr` is below `MASK_BITS` where it is cast")]
fn evaluate(regs: *const u8, ret: i64, arch: Option<u32>) -> Result<i32, i32> {
    let count = global(&RULE_COUNT).min(MAX_RULES);
    if count == 0 {
        return Ok(0);
    }
    let nr: u64 = unsafe { read(regs, PT_REGS_ORIG_AX)? };
    if nr >= u64::from(MASK_BITS) {
        return Ok(0);
    }
    let nr = nr as u32;
    if !in_mask(&ANY_RULE_MASK, nr) {
        return Ok(0);
    }
    // Our own process last: it costs a helper call, and only selected syscalls get here.
    if (bpf_get_current_pid_tgid() >> 32) as u32 == global(&crate::LOADER_TGID) {
        return Ok(0);
    }
    let task = unsafe { bpf_get_current_task() } as *const u8;
    let arch = if let Some(arch) = arch {
        arch
    } else {
        let status: u32 = unsafe { read(task, global(&TASK_STATUS_OFFSET) as usize)? };
        if status & TS_COMPAT != 0 { ARCH_B32 } else { ARCH_B64 }
    };
    // Number and ABI are read for every selected syscall; the rest only once a rule selects it, so that
    // a syscall no rule of its ABI names costs few reads.
    let mut facts: Option<(Facts, Object)> = None;
    let decided = first_match(count, MAX_RULES, |i| -> Result<Match, i32> {
        let Some(rule) = RULE_FILTERS.get(i) else { return Ok(Match::No) };
        if !rule.selects(nr, arch) {
            return Ok(Match::No);
        }
        if facts.is_none() {
            facts = Some(unsafe { read_facts(task, regs, ret, nr, arch)? });
        }
        let Some((facts, _)) = &facts else { return Ok(Match::No) };
        Ok(rule.judge(facts))
    })?;
    match decided {
        FirstMatch::Rule(i) => {
            bump(i);
            if let Some((facts, object)) = &facts
                && predicting()
            {
                unsafe { add_cost(i, task, regs, nr, facts, object) };
            }
        }
        FirstMatch::Undecided(i) => bump(MAX_RULES + i),
        FirstMatch::None => {}
    }
    Ok(0)
}

/// What `predict` found of the syscall's file.
#[derive(Clone, Copy, Default)]
struct Object {
    /// Bytes of the path from the object to its file system's root (an execve's program).
    path_bytes: u64,
}

#[inline(always)]
fn offsets() -> PredictOffsets {
    unsafe { core::ptr::read_volatile(&raw const PREDICT_OFFSETS) }
}

#[inline(always)]
fn predicting() -> bool {
    offsets().enabled != 0
}

#[inline(always)]
fn is_open(nr: u32) -> bool {
    matches!(nr, nr::OPEN | nr::CREAT | nr::OPENAT | nr::OPENAT2)
}

#[inline(always)]
fn is_exec(nr: u32) -> bool {
    matches!(nr, nr::EXECVE | nr::EXECVEAT)
}

/// The open flags of a 64-bit open-family syscall (`openat2`'s are the first field of its `open_how`).
#[inline(always)]
unsafe fn open_flags(nr: u32, args: &[u64; 4]) -> u64 {
    match nr {
        nr::OPEN => args[1],
        nr::OPENAT => args[2],
        nr::CREAT => O_CREAT | 1,
        _ => unsafe { bpf_probe_read_user(args[2] as *const u64) }.unwrap_or(0),
    }
}

/// `audit_match_perm`'s view of the syscall: the open flags' access, exec, or (for the class syscalls a
/// perm rule's mask is kept to in userspace) every permission.
#[inline(always)]
fn access(nr: u32, arch: u32, flags: u64) -> u32 {
    if arch != ARCH_B64 {
        return PERM_ALL;
    }
    if is_open(nr) && nr != nr::CREAT {
        acc_mode(flags)
    } else if is_exec(nr) {
        PERM_EXEC
    } else {
        PERM_ALL
    }
}

/// The file a successful open returned (`current->files->fdt->fd[ret]`) or the program a successful
/// execve runs (`current->mm->exe_file`).
#[inline(always)]
#[expect(clippy::cast_sign_loss, reason = "`ret` is checked to be a descriptor (>= 0) first")]
#[expect(clippy::cast_possible_truncation, reason = "a descriptor below `max_fds`, a u32, on a 64-bit target")]
unsafe fn object_file(task: *const u8, nr: u32, ret: i64) -> Option<*const u8> {
    let o = offsets();
    if is_open(nr) && ret >= 0 {
        let files: *const u8 = unsafe { read(task, o.task_files as usize).ok()? };
        let fdt: *const u8 = unsafe { read(files, o.files_fdt as usize).ok()? };
        let max: u32 = unsafe { read(fdt, o.fdt_max_fds as usize).ok()? };
        if ret as u64 >= u64::from(max) {
            return None;
        }
        let fd: *const u8 = unsafe { read(fdt, o.fdt_fd as usize).ok()? };
        let file: *const u8 = unsafe { read(fd, ret as usize * 8).ok()? };
        return (!file.is_null()).then_some(file);
    }
    if is_exec(nr) && ret == 0 {
        let mm: *const u8 = unsafe { read(task, o.task_mm as usize).ok()? };
        let file: *const u8 = unsafe { read(mm, o.mm_exe_file as usize).ok()? };
        return (!file.is_null()).then_some(file);
    }
    None
}

/// Walks from `file`'s dentry to its file system's root, collecting the rules whose watched inodes it
/// meets: the object itself for `path=`, any of them for `dir=`. (An `O_CREAT` open records its parent
/// under the same name, which the file then replaces: one name, compared at exit.) `None` when the walk
/// did not reach the root (a read failed, or deeper than `MAX_PATH_DEPTH`).
#[inline(always)]
unsafe fn walk(file: *const u8, facts: &mut Facts) -> Option<u64> {
    let o = offsets();
    let mut dentry: *const u8 = unsafe { read(file, o.file_dentry as usize).ok()? };
    let mut path_bytes = 0u64;
    for level in 0..MAX_PATH_DEPTH {
        let inode: *const u8 = unsafe { read(dentry, o.dentry_inode as usize).ok()? };
        if !inode.is_null() {
            let ino: u64 = unsafe { read(inode, o.inode_ino as usize).ok()? };
            let sb: *const u8 = unsafe { read(inode, o.inode_sb as usize).ok()? };
            let dev: u32 = unsafe { read(sb, o.sb_dev as usize).ok()? };
            if let Some(rules) = unsafe { WATCHED_INODES.get(InodeKey { ino, dev, _pad: 0 }) } {
                facts.dir_hits |= rules.dir;
                if level == 0 {
                    facts.watch_hits |= rules.watch;
                }
            }
        }
        let parent: *const u8 = unsafe { read(dentry, o.dentry_parent as usize).ok()? };
        if parent == dentry {
            facts.object = OBJECT_KNOWN;
            return Some(path_bytes);
        }
        let len: u32 = unsafe { read(dentry, o.dentry_name_len as usize).ok()? };
        path_bytes += u64::from(len) + 1;
        dentry = parent;
    }
    None
}

/// Sums what rule `i`'s event would cost to record: its names, an execve's arguments, the command line.
#[inline(always)]
unsafe fn add_cost(i: u32, task: *const u8, regs: *const u8, nr: u32, facts: &Facts, object: &Object) {
    let Some(cost) = RULE_COSTS.get_ptr_mut(i) else { return };
    // SAFETY: a per-CPU slot; tracepoints run with preemption off.
    let cost = unsafe { &mut *cost };
    let o = offsets();
    let names = if is_open(nr) {
        1
    } else if is_exec(nr) {
        // The program and its ELF interpreter (a `#!` script adds its interpreter: sized as 2).
        2
    } else {
        NAMES_PER_SYSCALL.get(nr).map_or(0, |n| u64::from(*n))
    };
    if names > 0 {
        cost.with_names += 1;
        cost.names += names;
    }
    if is_open(nr) {
        let path = if matches!(nr, nr::OPEN | nr::CREAT) { facts.args[0] } else { facts.args[1] };
        if let Some(buf) = PATH_SCRATCH.get_ptr_mut(0)
            && let Ok(read) = unsafe { bpf_probe_read_user_str_bytes(path as *const u8, &mut *buf) }
        {
            cost.name_bytes += read.len() as u64;
            cost.names_read += 1;
        }
    } else if is_exec(nr) && facts.object == OBJECT_KNOWN {
        cost.name_bytes += object.path_bytes;
        cost.names_read += 1;
    }
    let Ok(mm) = (unsafe { read::<*const u8>(task, o.task_mm as usize) }) else { return };
    if mm.is_null() {
        return;
    }
    let (Ok(start), Ok(end)) =
        (unsafe { (read::<u64>(mm, o.mm_arg_start as usize), read::<u64>(mm, o.mm_arg_end as usize)) })
    else {
        return;
    };
    let args = end.saturating_sub(start);
    // The command line without its last NUL, as `get_cmdline` hands it to `audit_log_proctitle`.
    cost.title_bytes += args.saturating_sub(1).min(MAX_PROCTITLE);
    if is_exec(nr) && facts.ret == 0 {
        cost.execs += 1;
        cost.arg_bytes += args;
        // After exec, the new stack starts with argc (`create_elf_tables`).
        let sp: u64 = unsafe { read(regs, PT_REGS_SP) }.unwrap_or(0);
        cost.argc += unsafe { bpf_probe_read_user(sp as *const u64) }.unwrap_or(0);
    }
}

#[inline(always)]
#[expect(clippy::cast_possible_truncation, reason = "`bpf_get_current_uid_gid` packs the uid in the low half")]
unsafe fn read_facts(task: *const u8, regs: *const u8, ret: i64, nr: u32, arch: u32) -> Result<(Facts, Object), i32> {
    let auid: u32 = unsafe { read(task, global(&TASK_LOGINUID_OFFSET) as usize)? };
    let cred: *const u8 = unsafe { read(task, global(&TASK_CRED_OFFSET) as usize)? };
    let euid: u32 = unsafe { read(cred, global(&CRED_EUID_OFFSET) as usize)? };
    let uid_gid = bpf_get_current_uid_gid();
    let args = unsafe {
        [read(regs, PT_REGS_DI)?, read(regs, PT_REGS_SI)?, read(regs, PT_REGS_DX)?, read(regs, PT_REGS_R10)?]
    };
    let mut facts = Facts {
        uid: uid_gid as u32,
        gid: (uid_gid >> 32) as u32,
        euid,
        auid,
        ret,
        args,
        access: PERM_ALL,
        ..Facts::default()
    };
    let mut object = Object::default();
    // Objects only for 64-bit syscalls: a 32-bit one's numbers are other syscalls.
    if predicting() && arch == ARCH_B64 && (is_open(nr) || is_exec(nr)) {
        let flags = if is_open(nr) { unsafe { open_flags(nr, &args) } } else { 0 };
        facts.access = access(nr, arch, flags);
        if let Some(file) = unsafe { object_file(task, nr, ret) } {
            object.path_bytes = unsafe { walk(file, &mut facts) }.unwrap_or(0);
        }
    }
    Ok((facts, object))
}

#[inline(always)]
fn bump(slot: u32) {
    if let Some(p) = RULE_HITS.get_ptr_mut(slot) {
        // SAFETY: a per-CPU slot; tracepoints run with preemption off.
        unsafe { *p += 1 };
    }
}
