use which::which;

/// Rebuild when bpf-linker changes: cargo does not see the linker as an input.
fn main() {
    let bpf_linker = which("bpf-linker").unwrap_or_else(|err| panic!("bpf-linker not found on PATH: {err}"));
    println!("cargo:rerun-if-changed={}", bpf_linker.display());
}
