//! Test helper for the tamper check: a separate process that attaches a kprobe (audit-verify's trivial
//! `probe_kprobe` program) to `audit_log_start`, says so on stdout, and sleeps until killed. `status` run
//! beside it must report `bpf_on_audit_path` naming that program and function. Needs a kernel with
//! kprobes: the VM harness (`cargo xtask vm-test`) runs it; this project's development VM cannot.

use std::io::Write as _;

use anyhow::Context as _;
use audit_verify::ebpf;
use audit_verify_common::names;
use aya::programs::KProbe;

/// `struct audit_buffer *audit_log_start(struct audit_context *ctx, gfp_t gfp_mask, int type)`,
/// kernel/audit.c, since 2.6.12.
const TARGET: &str = "audit_log_start";

fn main() -> anyhow::Result<()> {
    let mut object = ebpf::load(ebpf::Globals::default()).context("loading audit-verify's eBPF object")?;
    let program: &mut KProbe =
        object.program_mut(names::PROG_PROBE_KPROBE).context("probe_kprobe missing from the object")?.try_into()?;
    program.load()?;
    program.attach(TARGET, 0).with_context(|| format!("attaching a kprobe to {TARGET}"))?;
    println!("attached {} to {TARGET}", names::PROG_PROBE_KPROBE);
    std::io::stdout().flush()?;
    loop {
        std::thread::park();
    }
}
