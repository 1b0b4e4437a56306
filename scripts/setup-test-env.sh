#!/usr/bin/env bash
# Install everything the tests, the demo and the benchmark need, on a fresh machine. Idempotent: a
# second run only checks. Needs Python 3 (venv), Node.js 20+ with npm, and a Rust toolchain.
#
#   .venv/               moto[server] (the AWS API on loopback), s3-credentials 0.17 (upstream, for
#                        benchmarks), awscli + boto3 (real credential consumers)
#   tests/iam-sim/node_modules   @cloud-copilot/iam-simulate (the independent IAM policy evaluator)
#   apt: keyutils, gnome-keyring, dbus (real keyrings for the credential cache tests), zsh, fish
#        (completion tests; bash is there already), man-db (the man page tests)
#   rustup: rustfmt and clippy (checked by scripts/test.sh); cargo-nextest is used when present
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON_PACKAGES=(
    "moto[server]==5.2.5"
    "s3-credentials==0.17"
    "awscli==1.46.3"
    "boto3"
)
STAMP=".venv/.s3creds-packages"
WANTED="${PYTHON_PACKAGES[*]}"

say() { echo "setup: $*" >&2; }

need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    say "$1 is missing; installing $2 with apt-get"
    if ! apt-get install -y "$2" >/dev/null 2>&1; then
        apt-get update >/dev/null && apt-get install -y "$2" >/dev/null
    fi
}

need python3 python3
need node nodejs
need npm npm
need curl curl
need script bsdutils                         # a pseudo-terminal for the progress bar tests
need keyctl keyutils                         # the kernel keyring, for the serve cache tests
need gnome-keyring-daemon gnome-keyring      # a Secret Service, for the serve cache tests
need dbus-run-session dbus                   # a private D-Bus session for gnome-keyring
need zsh zsh                                 # shells that load `s3creds completions`
need fish fish
need man man-db                              # `man -l` renders `s3creds man` pages

# scripts/test.sh checks formatting and lints: the components must be there, or be installed here.
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        if command -v rustup >/dev/null 2>&1; then
            say "installing the $component component with rustup"
            rustup component add "$component"
        else
            say "error: cargo $component is missing and there is no rustup to install it"
            exit 1
        fi
    fi
done

if [[ ! -x .venv/bin/python ]]; then
    say "creating .venv"
    python3 -m venv .venv || { need python3-venv python3-venv && python3 -m venv .venv; }
fi
if [[ "$(cat "$STAMP" 2>/dev/null)" != "$WANTED" ]]; then
    say "installing ${PYTHON_PACKAGES[*]}"
    .venv/bin/pip install --quiet --disable-pip-version-check "${PYTHON_PACKAGES[@]}"
    echo "$WANTED" > "$STAMP"
fi

if [[ ! -d tests/iam-sim/node_modules/@cloud-copilot/iam-simulate ]]; then
    say "installing the IAM policy evaluator (npm ci in tests/iam-sim)"
    (cd tests/iam-sim && npm ci --no-audit --no-fund --loglevel=error)
fi

if [[ ! -d tests/js-consumer/node_modules/@aws-sdk/client-s3 ]]; then
    say "installing the AWS SDK for JavaScript v3 (npm ci in tests/js-consumer)"
    (cd tests/js-consumer && npm ci --no-audit --no-fund --loglevel=error)
fi

# Fail here, loudly, rather than in the middle of the tests.
.venv/bin/moto_server --help >/dev/null
.venv/bin/s3-credentials --version >/dev/null
node -e 'require("fs").accessSync("tests/iam-sim/node_modules/@cloud-copilot/iam-simulate")'
node -e 'require("fs").accessSync("tests/js-consumer/node_modules/@aws-sdk/client-s3")'
say "ready"
