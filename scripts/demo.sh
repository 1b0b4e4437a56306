#!/usr/bin/env bash
# The main job end to end: build s3creds, issue permanent and temporary credentials for a bucket, and
# use them (through the AWS CLI, a real consumer) to write and read an object.
#
# With no AWS credentials configured it runs against a local AWS-API emulator (moto on loopback). With
# credentials configured (AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws/...) it uses that account, creates a
# uniquely named bucket and IAM user, and deletes them again at the end. S3CREDS_DEMO_EMULATOR=1 forces
# the emulator.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

if [[ -z "${S3CREDS_DEMO_IN_SESSION:-}" ]]; then
    scripts/setup-test-env.sh
    cargo build --release --locked --bin s3creds
    # The credential cache of step 4 goes to a session keyring of the demo's own, which the kernel
    # destroys when the demo ends: nothing is left in your keyring, and no entry outlives the
    # demo's cache index (kept in its temporary folder).
    if command -v keyctl >/dev/null; then
        export S3CREDS_DEMO_IN_SESSION=1
        exec keyctl session - "$0" "$@"
    fi
    export S3CREDS_KEYRING=none   # no private kernel keyring available: cache nothing
else
    export S3CREDS_KEYRING=keyutils
fi
S3CREDS="$ROOT/target/release/s3creds"
AWS="$ROOT/.venv/bin/aws"
WORK=$(mktemp -d)
chmod 700 "$WORK"
MOTO_PID=""
cleanup_steps=()
cleanup() {
    local step
    for step in "${cleanup_steps[@]}"; do eval "$step" >/dev/null 2>&1 || true; done
    [[ -n "$MOTO_PID" ]] && kill "$MOTO_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

have_aws_account() {
    [[ "${S3CREDS_DEMO_EMULATOR:-0}" == 1 ]] && return 1
    "$AWS" sts get-caller-identity >/dev/null 2>&1
}

if have_aws_account; then
    echo "== Using the AWS account of your configuration"
    BUCKET="s3creds-demo-$(date +%s)-$RANDOM"
else
    echo "== No AWS account configured: starting a local AWS-API emulator (moto)"
    source "$ROOT/scripts/moto-lib.sh"
    start_moto "$WORK/moto.log" || { cat "$WORK/moto.log" >&2; echo "demo: moto did not start" >&2; exit 1; }
    export AWS_ENDPOINT_URL="$MOTO_URL" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
    export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
    export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
    unset AWS_PROFILE AWS_SESSION_TOKEN
    BUCKET="s3creds-demo-bucket"
fi
export S3CREDS_CACHE_DIR="$WORK/cache"   # the demo's cache index goes with its private keyring
USER_NAME="s3.read-write.$BUCKET"

echo
echo "== 1. The plan, without touching AWS:  s3creds create $BUCKET -c --dry-run"
"$S3CREDS" create "$BUCKET" -c --dry-run | head -12
echo "   ..."

echo
echo "== 2. Permanent credentials (IAM user + inline policy + access key):  s3creds create $BUCKET -c"
umask 077
"$S3CREDS" create "$BUCKET" -c > "$WORK/permanent.json"
cleanup_steps+=("$AWS s3 rb s3://$BUCKET --force")
cleanup_steps+=("$AWS iam delete-access-key --user-name $USER_NAME --access-key-id $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["AccessKeyId"])' "$WORK/permanent.json")")
cleanup_steps+=("$AWS iam delete-user-policy --user-name $USER_NAME --policy-name $USER_NAME")
cleanup_steps+=("$AWS iam delete-user --user-name $USER_NAME")
python3 - "$WORK/permanent.json" <<'PY'
import json, sys
creds = json.load(open(sys.argv[1]))
print("   issued key", creds["AccessKeyId"], "for user", creds["UserName"], "(secret written to a 0600 file, not shown)")
PY

as_creds() { # run the AWS CLI with the credentials in $1 (JSON); they travel in the environment only
    local file=$1; shift
    python3 - "$file" "$AWS" "$@" <<'PY'
import json, os, sys
c = json.load(open(sys.argv[1]))
env = dict(os.environ, AWS_ACCESS_KEY_ID=c["AccessKeyId"], AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"])
env.pop("AWS_PROFILE", None)
env.pop("AWS_SESSION_TOKEN", None)
if c.get("SessionToken"):
    env["AWS_SESSION_TOKEN"] = c["SessionToken"]
os.execve(sys.argv[2], sys.argv[2:], env)
PY
}

echo "hello from s3creds" > "$WORK/hello.txt"
as_creds "$WORK/permanent.json" s3 cp "$WORK/hello.txt" "s3://$BUCKET/hello.txt" --only-show-errors
echo "   wrote s3://$BUCKET/hello.txt with the permanent credentials"

echo
echo "== 3. Temporary read-only credentials (STS AssumeRole + session policy):  s3creds create $BUCKET --duration 15m --read-only"
"$S3CREDS" create "$BUCKET" --duration 15m --read-only > "$WORK/temporary.json"
echo "   read back: $(as_creds "$WORK/temporary.json" s3 cp "s3://$BUCKET/hello.txt" - )"

echo
echo "== 4. Every SDK through credential_process:  s3creds profile add demo-ro $BUCKET --read-only"
DEMO_CONFIG="$WORK/aws-config"
# The new profile's credentials come from a source profile: yours, or `default` (whose keys are the
# environment's with the emulator).
AWS_CONFIG_FILE="$DEMO_CONFIG" "$S3CREDS" --profile "${AWS_PROFILE:-default}" profile add demo-ro "$BUCKET" --read-only
grep credential_process "$DEMO_CONFIG" | sed 's/^/   /'
echo "   aws --profile demo-ro s3 cp s3://$BUCKET/hello.txt - : $(AWS_CONFIG_FILE="$DEMO_CONFIG" "$AWS" --profile demo-ro s3 cp "s3://$BUCKET/hello.txt" -)"
echo "   the credentials are now cached, in the demo's private kernel keyring (later calls make no AWS call):"
AWS_CONFIG_FILE="$DEMO_CONFIG" "$S3CREDS" cache list | sed 's/^/   /'

echo
echo "== 5. A command with a credentials endpoint of its own:  s3creds exec $BUCKET --read-only -- aws s3 cp s3://$BUCKET/hello.txt -"
echo "   read back: $("$S3CREDS" exec "$BUCKET" --read-only -- "$AWS" s3 cp "s3://$BUCKET/hello.txt" -)"

echo
echo "== Done: permanent and temporary credentials issued and used, served to the AWS CLI, and given to a command."
