//! audit-verify's kernel side.
#![no_std]
#![no_main]
// This crate does not inherit [workspace.lints] (it builds only for the BPF target, from build.rs); the
// stub lib.rs uses nothing, so the check lives on the binary, where the programs are.
#![warn(unused_crate_dependencies)]
// STYLE 4: every helper is inlined, because the verifier must see each program whole (BPF-to-BPF calls
// and their stack rules are not something we want to depend on).
#![expect(clippy::inline_always, reason = "the verifier must see each program whole")]
// aya's program macros fix the entry points' signature: the context is taken by value.
#![expect(clippy::needless_pass_by_value, reason = "aya's program macros take the context by value")]

// The package's stub lib.rs (there for audit-verify's build-dependency) is an implicit dependency of
// this binary: named so that the unused-dependency check holds for the real ones.
use audit_verify_ebpf as _;

mod audit_drops;
mod audit_probes;
mod capability_probes;
mod match_rules;
mod syscall_counter;

/// The loader's TGID, set at load time: every sensor skips our own process, in the kernel.
#[unsafe(no_mangle)]
static LOADER_TGID: u32 = 0;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
