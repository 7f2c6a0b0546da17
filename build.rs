//! Compiles bpf/exectrace.bpf.c and generates its Rust skeleton (clang at
//! build time only), and gives the C library its SONAME.
use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "bpf/exectrace.bpf.c";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("CARGO_CFG_TARGET_ARCH is set by cargo");
    let multiarch = match arch.as_str() {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        other => panic!("exectrace: unsupported target architecture {other}"),
    };
    let clang = env::var("EXECTRACE_CLANG").unwrap_or_else(|_| "clang".into());

    // Two objects from one source (see EXECTRACE_NO_ATOMICS in it): one for
    // 5.12+ with BPF atomics, one for older kernels without them. Same
    // maps, programs and globals, so the loader is written once for both.
    for (skel, cpu, defines) in [
        ("exectrace.skel.rs", "-mcpu=v3", &[][..]),
        (
            "exectrace_no_atomics.skel.rs",
            "-mcpu=v2",
            &["-DEXECTRACE_NO_ATOMICS"][..],
        ),
    ] {
        let mut args = vec![
            "-Wall".to_string(),
            "-Werror".to_string(),
            cpu.to_string(),
            "-Ibpf".to_string(),
            // <asm/types.h> for the UAPI headers
            format!("-I/usr/include/{multiarch}"),
        ];
        args.extend(defines.iter().map(|d| d.to_string()));
        SkeletonBuilder::new()
            .source(SRC)
            .clang(&clang)
            .clang_args(args)
            .build_and_generate(out.join(skel))
            .unwrap_or_else(|e| {
                panic!("exectrace: building {SRC} ({skel}) failed (is clang installed?): {e:#}")
            });
    }

    for f in [
        "bpf/exectrace.bpf.c",
        "bpf/exectrace.h",
        "bpf/vmlinux_min.h",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=EXECTRACE_CLANG");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libexectrace.so.0");
}
