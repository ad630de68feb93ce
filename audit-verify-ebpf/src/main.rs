//! audit-verify's kernel side.
#![no_std]
#![no_main]

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
