#!/usr/bin/env bash
# The GitHub Action's work (action.yml): install the release binary, start `serve` in the
# background, wait until ready, export its URL. Also runs outside Actions (.ci/ship tests it):
# INPUT_DOWNLOAD_BASE downloads from a mirror, INBOXKIT_MOCK_BIN skips the download; GITHUB_OUTPUT,
# GITHUB_ENV, GITHUB_PATH and RUNNER_TEMP default to files in a temporary directory.
set -euo pipefail

version="${INPUT_VERSION:-latest}"
repo="${INPUT_REPOSITORY:-inboxkit-mock/inboxkit-mock}"
port="${INPUT_PORT:-8025}"
ready_timeout="${INPUT_READY_TIMEOUT:-30}"
runner_temp="${RUNNER_TEMP:-$(mktemp -d)}"
github_output="${GITHUB_OUTPUT:-$runner_temp/github_output}"
github_env="${GITHUB_ENV:-$runner_temp/github_env}"
github_path="${GITHUB_PATH:-$runner_temp/github_path}"

fail() { echo "::error title=inboxkit-mock::$*" >&2; exit 1; }

install_binary() {
    local os arch target asset base dir
    case "$(uname -s)" in
        Linux) os=unknown-linux-musl ;;
        Darwin) os=apple-darwin ;;
        *) fail "no prebuilt binary for $(uname -s); run the container image instead" ;;
    esac
    case "$(uname -m)" in
        x86_64 | amd64) arch=x86_64 ;;
        aarch64 | arm64) arch=aarch64 ;;
        *) fail "no prebuilt binary for $(uname -m)" ;;
    esac
    target="$arch-$os"
    asset="inboxkit-mock-$target.tar.gz"
    if [ -n "${INPUT_DOWNLOAD_BASE:-}" ]; then
        base="${INPUT_DOWNLOAD_BASE%/}"
    elif [ "$version" = latest ]; then
        base="https://github.com/$repo/releases/latest/download"
    else
        base="https://github.com/$repo/releases/download/v${version#v}"
    fi
    dir="$runner_temp/inboxkit-mock-bin"
    mkdir -p "$dir"
    curl -fsSL --retry 3 -o "$dir/$asset" "$base/$asset" || fail "cannot download $base/$asset"
    curl -fsSL --retry 3 -o "$dir/$asset.sha256" "$base/$asset.sha256" || fail "cannot download $base/$asset.sha256"
    if command -v sha256sum > /dev/null; then
        (cd "$dir" && sha256sum -c "$asset.sha256" >&2) || fail "checksum mismatch for $asset"
    else
        (cd "$dir" && shasum -a 256 -c "$asset.sha256" >&2) || fail "checksum mismatch for $asset"
    fi
    tar -xzf "$dir/$asset" -C "$dir"
    echo "$dir" >> "$github_path"
    printf '%s\n' "$dir/inboxkit-mock"
}

if [ -n "${INBOXKIT_MOCK_BIN:-}" ]; then
    binary="$INBOXKIT_MOCK_BIN"
else
    binary="$(install_binary)"
fi
[ -x "$binary" ] || fail "$binary is not executable"

args=(serve --bind "${INPUT_BIND:-127.0.0.1}" --port "$port")
[ -n "${INPUT_WEBHOOK_URL:-}" ] && args+=(--webhook-url "$INPUT_WEBHOOK_URL")
[ -n "${INPUT_PROFILE:-}" ] && args+=(--profile "$INPUT_PROFILE")
[ -n "${INPUT_SEED:-}" ] && args+=(--seed "$INPUT_SEED")
[ "${INPUT_PAUSED:-false}" = true ] && args+=(--paused)
if [ -n "${INPUT_ARGS:-}" ]; then
    # Extra flags, split on whitespace like a command line (no quoting).
    read -r -a extra <<< "$INPUT_ARGS"
    args+=("${extra[@]}")
fi

log="$runner_temp/inboxkit-mock.log"
# Keys come from the environment so they never show in the process list.
INBOXKIT_MOCK_API_KEY="${INPUT_API_KEY:?the api-key input is required}" \
INBOXKIT_MOCK_SECRET="${INPUT_SECRET:?the secret input is required}" \
    nohup "$binary" "${args[@]}" > "$log" 2>&1 &
pid=$!
echo "$pid" > "$runner_temp/inboxkit-mock.pid"

url="http://127.0.0.1:$port"
ready=""
for _ in $(seq 1 $((ready_timeout * 10))); do
    if ! kill -0 "$pid" 2>/dev/null; then
        cat "$log" >&2
        fail "inboxkit-mock serve exited during start-up (log above)"
    fi
    if "$binary" health --url "$url" --ready > /dev/null 2>&1; then
        ready=yes
        break
    fi
    sleep 0.1
done
if [ -z "$ready" ]; then
    cat "$log" >&2
    fail "inboxkit-mock serve was not ready within ${ready_timeout}s (log above)"
fi

{
    echo "url=$url"
    echo "pid=$pid"
    echo "log=$log"
    echo "binary=$binary"
} >> "$github_output"
echo "INBOXKIT_MOCK_URL=$url" >> "$github_env"
echo "inboxkit-mock serve is ready at $url (pid $pid, log $log)"
