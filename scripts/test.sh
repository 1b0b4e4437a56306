#!/usr/bin/env bash
# Run every test of s3creds on a fresh machine: install what the tests need, check formatting and
# lints, then run all tests (each integration test starts its own moto server on loopback).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-test-env.sh

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

if cargo nextest --version >/dev/null 2>&1; then
    # The kernel keyring tests need a session keyring of their own.
    keyctl session - cargo nextest run --workspace --locked --no-fail-fast
else
    keyctl session - cargo test --workspace --locked --no-fail-fast
fi
