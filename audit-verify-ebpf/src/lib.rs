#![no_std]
// This file exists so that audit-verify can name this crate as a build-dependency: cargo then rebuilds
// audit-verify (and so the embedded eBPF object) when anything here changes.
