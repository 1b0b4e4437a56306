#!/usr/bin/env bash
# Run every test of s3creds on a fresh machine: install what the tests need, check formatting and
# lints, then run all tests (each integration test starts its own moto server on loopback).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-test-env.sh

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# The crates as crates.io would receive them: the file list, versioned path dependencies, a build
# from the packaged sources (the plugin API from its own package, not from the path).
cargo package --locked --quiet --allow-dirty -p s3creds-plugin-api -p s3creds

# The kernel keyring tests need a session keyring of their own. cargo-nextest runs them faster;
# without it, cargo test runs the same tests.
if cargo nextest --version >/dev/null 2>&1; then
    keyctl session - cargo nextest run --workspace --locked --no-fail-fast
else
    echo "test: cargo-nextest is not installed; running cargo test" >&2
    keyctl session - cargo test --workspace --locked --no-fail-fast
fi
