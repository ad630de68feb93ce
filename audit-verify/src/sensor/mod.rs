//! eBPF sensors: what happened on the host, counted in the kernel.

pub mod stopped_child;
pub mod syscall_counter;
