#![no_std]
#![expect(unused_crate_dependencies, reason = "a stub: the programs in main.rs use the dependencies")]
// This file exists so that audit-verify can name this crate as a build-dependency: cargo then rebuilds
// audit-verify (and so the embedded eBPF object) when anything here changes.
