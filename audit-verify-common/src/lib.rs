//! Types, names and kernel semantics shared by audit-verify's eBPF programs and its userspace.
//!
//! The shared types are `#[repr(C)]` and `Copy` so both sides read the same bytes; sizes are pinned with
//! compile-time asserts so a change on one side cannot silently drift from the other. The audit rule
//! semantics ([`rule_semantics`]) are code both sides run, so they cannot drift either.
// `std` only for the unit tests' harness.
#![cfg_attr(not(test), no_std)]
// Not under test: the unit tests' build also links the dev-dependencies.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

pub mod measure;
pub mod names;
pub mod probes;
pub mod rule_semantics;
pub mod syscall_counter;
