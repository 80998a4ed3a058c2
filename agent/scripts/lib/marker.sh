# shellcheck shell=sh
# guest-disk-agent: the framing every remote script prints (parsed by agent/core/marker.py).
# Needs N (the per-run nonce, from the prelude). gda_run needs T (a private temporary directory);
# gda_cmd and gda_capture need none.
# Every function here is builtins only (forks cost tens of ms on a slow guest).

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
# gda_obs KEY VALUE: one observation, newlines in VALUE folded to spaces (a fork only when there are any)
gda_obs() {
    _ov=$2
    case $_ov in *"
"*) _ov=$(printf '%s' "$_ov" | tr '\n' ' ') ;; esac
    printf '@@GDA-%s OBS %s=%s\n' "$N" "$1" "$_ov"
}
gda_result() { printf '@@GDA-%s RESULT code=%s reason=%s@@\n' "$N" "$1" "$2"; }
gda_done() { printf '@@GDA-%s DONE@@\n' "$N"; }

# gda_cat FILE: FILE on stdout with builtins only (for small files: /proc, sysfs, a captured stderr)
gda_cat() {
    while IFS= read -r _cl || [ -n "$_cl" ]; do printf '%s\n' "$_cl"; done <"$1"
}

# gda_run SECTION ARG COMMAND...: run COMMAND (stdin closed); print its stdout, stderr and status framed.
# COMMAND's stdout goes straight out (no copy, no fork): when its last line has no newline the STDERR
# marker follows on the same line, which the parser splits off. Its stderr goes through "$T/err".
gda_run() {
    _s=$1; _a=$2; shift 2
    gda_begin "$_s" "$_a"
    "$@" 2>"$T/err" </dev/null
    _rc=$?
    gda_stderr
    [ -s "$T/err" ] && gda_cat "$T/err"
    gda_end "$_rc"
}

# gda_cmd SECTION ARG COMMAND...: gda_run without a file: COMMAND runs in a subshell (what it sets is
# not kept), its stdout straight out, its stderr held in a variable (a fork of the shell, no exec)
gda_cmd() {
    _s=$1; _a=$2; shift 2
    gda_begin "$_s" "$_a"
    { _ge=$("$@" 2>&1 1>&4 4>&- </dev/null); } 4>&1
    _rc=$?
    gda_stderr
    [ -n "$_ge" ] && printf '%s\n' "$_ge"
    gda_end "$_rc"
}

# gda_capture SECTION ARG COMMAND...: gda_cmd's section, COMMAND's stdout also kept in $gda_out (for a
# script that decides on it; trailing newlines dropped) and its status in $_rc. No file: one capture
# holds the stderr, then a mark only this run can print (the nonce) with the status, then the stdout.
gda_capture() {
    _s=$1; _a=$2; shift 2
    _gx=$( { _go=$("$@" 2>&3 3>&- </dev/null); _gr=$?; printf '@@GDA-%s OUT %s@@%s' "$N" "$_gr" "$_go"; } 3>&1 )
    _ge=${_gx%%"@@GDA-$N OUT "*}
    _gx=${_gx#"$_ge@@GDA-$N OUT "}
    _rc=${_gx%%@@*}
    gda_out=${_gx#"$_rc@@"}
    _ge=${_ge%"
"}
    gda_begin "$_s" "$_a"
    [ -n "$gda_out" ] && printf '%s\n' "$gda_out"
    gda_stderr
    [ -n "$_ge" ] && printf '%s\n' "$_ge"
    gda_end "$_rc"
}

# gda_text NAME RC TEXT: captured output (stderr already folded in) as one section
gda_text() {
    gda_begin "$1" -
    [ -n "$3" ] && printf '%s\n' "$3"
    gda_end "$2"
}
