//! Test helper for the tamper check: a separate process that attaches a kprobe (audit-verify's trivial
//! `probe_kprobe` program) to `audit_log_start`, says so on stdout, and sleeps until killed. `status` run
//! beside it must report `bpf_on_audit_path` naming that program and function. Needs a kernel with
//! kprobes: the VM harness (`cargo xtask vm-test`) runs it; this project's development VM cannot.
//!
//! Two ways to attach, as tools do:
//! - default: a BPF link over the perf event (`BPF_LINK_CREATE`, what aya and libbpf do on Linux 5.15+);
//!   the process then holds only a `bpf_link` fd;
//! - `--perf-fd`: the older way (`perf_event_open` + `PERF_EVENT_IOC_SET_BPF`, bcc and libbpf before
//!   5.15); the process holds the perf event fd.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

use std::{
    ffi::CString,
    io::Write as _,
    os::fd::{AsFd as _, AsRawFd as _, FromRawFd as _, OwnedFd},
};

use anyhow::{Context as _, bail};
use audit_verify::ebpf;
use audit_verify_common::names;
use aya::programs::KProbe;

/// `struct audit_buffer *audit_log_start(struct audit_context *ctx, gfp_t gfp_mask, int type)`,
/// kernel/audit.c, since 2.6.12.
const TARGET: &str = "audit_log_start";

fn main() -> anyhow::Result<()> {
    let perf_fd = std::env::args().any(|a| a == "--perf-fd");
    let mut object = ebpf::load(ebpf::Globals::default()).context("loading audit-verify's eBPF object")?;
    let program: &mut KProbe =
        object.program_mut(names::PROG_PROBE_KPROBE).context("probe_kprobe missing from the object")?.try_into()?;
    program.load()?;
    let _held = if perf_fd {
        Some(attach_with_perf_fd(program.fd()?.as_fd().as_raw_fd())?)
    } else {
        program.attach(TARGET, 0).with_context(|| format!("attaching a kprobe to {TARGET}"))?;
        None
    };
    let how = if perf_fd { "a perf event fd" } else { "a BPF link" };
    println!("attached {} to {TARGET} through {how}", names::PROG_PROBE_KPROBE);
    std::io::stdout().flush()?;
    loop {
        std::thread::park();
    }
}

/// `perf_event_open` on the kprobe PMU, then `PERF_EVENT_IOC_SET_BPF`. Returns the perf event fd.
fn attach_with_perf_fd(prog_fd: i32) -> anyhow::Result<OwnedFd> {
    const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
    const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;
    const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
    /// `PERF_ATTR_SIZE_VER5`.
    const ATTR_SIZE: u64 = 112;
    let pmu: u64 = std::fs::read_to_string("/sys/bus/event_source/devices/kprobe/type")
        .context("no kprobe PMU")?
        .trim()
        .parse()?;
    let function = CString::new(TARGET)?;
    // struct perf_event_attr as u64 words: [0] type | size << 32, [1] config, [2] sample_period,
    // [3] sample_type, [4] read_format, [5] flag bits, [6] wakeup_events | bp_type, [7] config1 (the
    // kprobe's function name), [8] config2 (offset).
    let mut attr = [0u64; 16];
    attr[0] = pmu | (ATTR_SIZE << 32);
    attr[2] = 1;
    attr[7] = function.as_ptr() as u64;
    // SAFETY: a zeroed perf_event_attr of the size declared, with a NUL-terminated name that outlives the call.
    let fd = unsafe { libc::syscall(libc::SYS_perf_event_open, attr.as_ptr(), -1, 0, -1, PERF_FLAG_FD_CLOEXEC) };
    if fd < 0 {
        bail!("perf_event_open(kprobe {TARGET}): {}", std::io::Error::last_os_error());
    }
    let fd = i32::try_from(fd)?;
    // SAFETY: the kernel just returned this fd to us.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ioctls on our perf event fd with an int argument.
    if unsafe { libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_SET_BPF, prog_fd) } < 0
        || unsafe { libc::ioctl(fd.as_raw_fd(), PERF_EVENT_IOC_ENABLE, 0) } < 0
    {
        bail!("attaching the program to the perf event: {}", std::io::Error::last_os_error());
    }
    Ok(fd)
}
