#!/usr/bin/env bash
# Checks the generated pyetcd_wire/_proto modules against the protobuf runtimes
# we claim: the oldest (4.21) and newest (7.x) on CPython, and PyPy with
# whatever protobuf pip picks for it. Each runtime gets a throwaway venv under
# a temp dir (removed at exit unless KEEP=1), imports the three modules, does
# a round trip, and runs tests/test_proto.py.
#
# Usage, from anywhere:  bash scripts/check_protobuf_compat.sh
# Overrides (environment):
#   PYTHON_OLD=python3.9        interpreter for the oldest protobuf (default:
#                               the first working python3.9, pyenv's 3.9.x,
#                               python3)
#   PROTOBUF_OLDEST=4.21.1      oldest 4.21 release on the index (no 4.21.0)
#   PYTHON_NEW=python3          interpreter for the newest 7.x
#   PROTOBUF_NEWEST='>=7,<8'    version specifier for the newest
#   PYPY=pypy3                  PyPy interpreter; skipped if not found
#   KEEP=1                      keep the venvs (their path is printed)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# First candidate that actually runs (a pyenv shim may exist but not work).
first_working() {
    local c
    for c in "$@"; do
        if [ -n "$c" ] && "$c" -c 'import sys' >/dev/null 2>&1; then
            echo "$c"
            return
        fi
    done
    echo "$1"
}
PYENV_39=""
if command -v pyenv >/dev/null 2>&1; then
    PYENV_39="$(ls -d "$(pyenv root)"/versions/3.9.*/bin/python 2>/dev/null | tail -1)"
fi
PYTHON_OLD="${PYTHON_OLD:-$(first_working python3.9 "$PYENV_39" python3)}"
PROTOBUF_OLDEST="${PROTOBUF_OLDEST:-4.21.1}"
PYTHON_NEW="${PYTHON_NEW:-python3}"
PROTOBUF_NEWEST="${PROTOBUF_NEWEST:->=7,<8}"
PYPY="${PYPY:-pypy3}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/pyetcd-protobuf-compat.XXXXXX")"
if [ "${KEEP:-0}" = "1" ]; then
    echo "venvs kept under $WORK"
else
    trap 'rm -rf "$WORK"' EXIT
fi

SMOKE='
import sys
import google.protobuf
from google.protobuf.internal import api_implementation
from pyetcd_wire._proto import auth_pb2, kv_pb2, rpc_pb2

txn = rpc_pb2.TxnRequest(
    compare=[rpc_pb2.Compare(key=b"k", target=rpc_pb2.Compare.MOD, mod_revision=5)],
    success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"k", value=b"v"))],
)
back = rpc_pb2.TxnRequest.FromString(txn.SerializeToString())
assert back == txn, back
assert back.compare[0].WhichOneof("target_union") == "mod_revision"
ev = kv_pb2.Event(type=kv_pb2.Event.DELETE, kv=kv_pb2.KeyValue(key=b"x"))
assert kv_pb2.Event.FromString(ev.SerializeToString()) == ev
perm = auth_pb2.Permission(permType=auth_pb2.Permission.READ, key=b"a")
assert auth_pb2.Permission.FromString(perm.SerializeToString()) == perm
status = rpc_pb2.StatusResponse(version="3.5.1", dbSize=4096)  # admin_pb2, on first use
assert rpc_pb2.StatusResponse.FromString(status.SerializeToString()) == status
print("  import + round trip ok: Python %s, protobuf %s (%s)" % (
    sys.version.split()[0], google.protobuf.__version__, api_implementation.Type()))
'

declare -a RESULTS=()
FAILED=0

run_one() {
    # run_one LABEL INTERPRETER PROTOBUF_SPEC
    local label="$1" interp="$2" spec="$3"
    local venv="$WORK/$label"
    echo "=== $label: $interp, protobuf$spec"
    if ! command -v "$interp" >/dev/null 2>&1; then
        echo "  $interp not found: skipped"
        RESULTS+=("$label: SKIPPED ($interp not found)")
        return
    fi
    if ! "$interp" -m venv "$venv" >"$WORK/$label.log" 2>&1; then
        cat "$WORK/$label.log"
        RESULTS+=("$label: FAILED (venv)")
        FAILED=1
        return
    fi
    if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        "protobuf$spec" pytest pytest-timeout >>"$WORK/$label.log" 2>&1; then
        tail -20 "$WORK/$label.log"
        RESULTS+=("$label: FAILED (pip install protobuf$spec)")
        FAILED=1
        return
    fi
    local version
    version="$("$venv/bin/python" -c 'import google.protobuf as g; print(g.__version__)')"
    local ok=1
    (cd "$ROOT" && PYTHONPATH="$ROOT" "$venv/bin/python" -c "$SMOKE") || ok=0
    (cd "$ROOT" && PYTHONPATH="$ROOT" "$venv/bin/python" -m pytest \
        tests/test_proto.py -q -p no:cacheprovider) || ok=0
    local pyver
    pyver="$("$venv/bin/python" -c 'import sys, platform; print(platform.python_implementation(), sys.version.split()[0])')"
    if [ "$ok" = "1" ]; then
        RESULTS+=("$label: ok ($pyver, protobuf $version)")
    else
        RESULTS+=("$label: FAILED ($pyver, protobuf $version)")
        FAILED=1
    fi
}

run_one cpython-oldest "$PYTHON_OLD" "==$PROTOBUF_OLDEST"
run_one cpython-newest "$PYTHON_NEW" "$PROTOBUF_NEWEST"
run_one pypy "$PYPY" ""

echo
echo "=== summary"
for line in "${RESULTS[@]}"; do
    echo "  $line"
done
exit "$FAILED"
