# shellcheck shell=sh
# guest-disk-agent: fix-netplan's way back: backups of the files it changes, and a transient systemd
# timer that restores them and re-applies the old configuration unless it is cancelled.
# Prelude: N (unused), ACTION (backup | arm | restore | cancel | fire | confirm-try), UNIT (the
# transient unit's name), FIRES_IN (seconds, for arm); argv: pairs of PATH BACKUP.
# shellcheck disable=SC2154

cancel() {
    systemctl stop "$UNIT.timer" 2>/dev/null
    systemctl reset-failed "$UNIT.service" 2>/dev/null
    rm -f "/run/$UNIT.sh"
    true
}

case $ACTION in
backup)
    while [ $# -ge 2 ]; do
        cp -p "$1" "$2" || exit 1
        shift 2
    done
    ;;
arm)
    # The timer's job is a script file of its own, given the pairs as arguments: a command line with
    # shell syntax in it does not survive the daemon-reload that netplan apply does (systemd re-reads
    # the transient unit and splits it at the ";"), and systemd expands $NAME in it.
    job="/run/$UNIT.sh"
    umask 077
    cat >"$job" <<'JOB'
# guest-disk-agent: put the netplan backups back and apply them (fix-netplan's revert timer)
while [ $# -ge 2 ]; do
    cp -p "$2" "$1" || exit 1
    shift 2
done
netplan apply
rc=$?
rm -f "$0"
exit "$rc"
JOB
    systemd-run --quiet --service-type=oneshot --unit="$UNIT" --on-active="${FIRES_IN}s" \
        /bin/sh "$job" "$@"
    ;;
restore)
    # Put the old files back and regenerate (the running state is the caller's); cancel the timer.
    rc=0
    while [ $# -ge 2 ]; do
        cp -p "$2" "$1" || rc=1
        shift 2
    done
    [ "$rc" -ne 0 ] || netplan generate || rc=$?
    cancel
    exit "$rc"
    ;;
cancel)
    cancel
    ;;
fire)
    # Restore and re-apply the old configuration right away: the timer's own job, run now.
    systemctl start "$UNIT.service"
    ;;
confirm-try)
    # SIGUSR1 is `netplan try`'s "accept"; the [n] keeps pkill from matching this shell.
    pkill -USR1 -f '^[^ ]*python[^ ]* [^ ]*[n]etplan try' || exit 1
    cancel
    ;;
*)
    echo "unknown action $ACTION" >&2
    exit 2
    ;;
esac
