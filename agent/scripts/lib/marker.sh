# shellcheck shell=sh
# guest-disk-agent: the framing every remote script prints (parsed by agent/core/marker.py).
# Needs N (the per-run nonce, from the prelude). gda_run needs T (a private temporary directory).

# gda_header KIND VERSION [key=value ...]
gda_header() {
    _k=$1; _v=$2; shift 2
    if [ $# -gt 0 ]; then
        printf '@@GDA-%s v%s nonce=%s %s@@\n' "$_k" "$_v" "$N" "$*"
    else
        printf '@@GDA-%s v%s nonce=%s@@\n' "$_k" "$_v" "$N"
    fi
}
gda_begin() { printf '@@GDA-%s BEGIN %s %s@@\n' "$N" "$1" "${2:--}"; }
gda_stderr() { printf '@@GDA-%s STDERR@@\n' "$N"; }
gda_end() { printf '@@GDA-%s END rc=%s@@\n' "$N" "$1"; }
# gda_obs KEY VALUE: one observation, newlines in VALUE folded to spaces
gda_obs() { printf '@@GDA-%s OBS %s=%s\n' "$N" "$1" "$(printf '%s' "$2" | tr '\n' ' ')"; }
gda_result() { printf '@@GDA-%s RESULT code=%s reason=%s@@\n' "$N" "$1" "$2"; }
gda_done() { printf '@@GDA-%s DONE@@\n' "$N"; }

# gda_run SECTION ARG COMMAND...: run COMMAND (stdin closed); print its stdout, stderr and status framed.
gda_run() {
    _s=$1; _a=$2; shift 2
    "$@" >"$T/out" 2>"$T/err" </dev/null
    _rc=$?
    gda_begin "$_s" "$_a"
    [ -s "$T/out" ] && awk 1 "$T/out"
    gda_stderr
    [ -s "$T/err" ] && awk 1 "$T/err"
    gda_end "$_rc"
}

# gda_block NAME FILE RC: a file's content as one section (stderr already folded in)
gda_block() {
    gda_begin "$1" -
    awk 1 "$2"
    gda_end "$3"
}
