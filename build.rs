//! Link the s3creds binaries as position-dependent executables on Linux.
//!
//! Why: `s3creds serve` runs at every AWS SDK client start, and a cache hit does almost nothing but start
//! up. As a PIE, the dynamic loader first applies ~50,000 relative relocations (the AWS SDKs' static
//! data), which copies ~190 pages and costs ~0.6 ms of a ~2.5 ms hit; linked non-PIE, a hit takes
//! ~1.9 ms (measured with scripts/bench-serve.sh). The cost is ASLR of the executable image itself (the
//! stack, heap and shared libraries stay randomized) - the same default Go uses for the credential
//! helpers s3creds sits beside (aws-vault, granted). Set S3CREDS_PIE=1 at build time to keep a PIE.
//! Only the binaries are affected: plugin libraries (cdylib) are always position-independent.

fn main() {
    println!("cargo:rerun-if-env-changed=S3CREDS_PIE");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    let keep_pie = std::env::var_os("S3CREDS_PIE").is_some_and(|v| v == "1");
    if linux_gnu && !keep_pie {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
