# shellcheck shell=sh
# guest-disk-agent: fix-netplan's way back: backups of the files it changes, a transient systemd timer
# that restores them and re-applies the old configuration unless it is cancelled, and a unit run at
# boot that does the same when the guest reboots before the change was confirmed (the transient timer
# does not survive a reboot).
# Prelude: N (unused), ACTION (backup | arm | backup-arm | restore | cancel | fire | confirm-try), UNIT
# (the units' name), FIRES_IN (seconds, for arm), UNIT_DIR (/etc/systemd/system), STATE_DIR (where the job script
# lives: it must survive a reboot); argv: pairs of PATH BACKUP. A PATH that did not exist at the backup
# gets a marker BACKUP.absent instead: the way back removes PATH.
# shellcheck disable=SC2154

job="$STATE_DIR/$UNIT.sh"
boot="$UNIT_DIR/$UNIT-boot.service"
wants="$UNIT_DIR/multi-user.target.wants/$UNIT-boot.service"

# The way back is gone only when its boot unit is: a unit left behind would undo a confirmed change at
# the next boot.
cancel() {
    systemctl stop "$UNIT.timer" 2>/dev/null
    systemctl reset-failed "$UNIT.service" 2>/dev/null
    rm -f "$wants" "$boot" "$job" || return 1
    sync
    [ ! -e "$boot" ] && [ ! -L "$wants" ]
}

restore_files() {
    _rc=0
    while [ $# -ge 2 ]; do
        if [ -e "$2" ]; then
            cp -p "$2" "$1" || _rc=1
        elif [ -e "$2.absent" ]; then
            rm -f "$1" || _rc=1
        else
            echo "no backup of $1 ($2 is missing)" >&2
            _rc=1
        fi
        shift 2
    done
    return "$_rc"
}

backup_files() {
    while [ $# -ge 2 ]; do
        if [ -e "$1" ]; then
            cp -p "$1" "$2" || return 1
        else
            mkdir -p "${2%/*}" && : >"$2.absent" || return 1
        fi
        shift 2
    done
    sync
}

# Arm the way back (exits 1, or systemd-run's status, when it cannot).
arm() {
    # The job is a script file of its own, given the pairs as arguments: a command line with shell
    # syntax in it does not survive the daemon-reload that netplan apply does (systemd re-reads the
    # transient unit and splits it at the ";"), and systemd expands $NAME in it. It lives in STATE_DIR
    # (not /run) for the boot unit.
    umask 077
    mkdir -p "$STATE_DIR" "${wants%/*}" || exit 1
    cat >"$job" <<'JOB' || exit 1
# guest-disk-agent: fix-netplan's way back: put the netplan backups back and apply them, then remove
# the way back. Run by the revert timer, or at boot when the change was never confirmed.
# Arguments: UNIT UNIT_DIR, then pairs of PATH BACKUP (BACKUP.absent: PATH did not exist, remove it).
unit=$1 unit_dir=$2
shift 2
rc=0
while [ $# -ge 2 ]; do
    if [ -e "$2" ]; then
        cp -p "$2" "$1" || rc=1
    elif [ -e "$2.absent" ]; then
        rm -f "$1" || rc=1
    else
        echo "no backup of $1 ($2 is missing)" >&2
        rc=1
    fi
    shift 2
done
[ "$rc" -ne 0 ] || netplan apply || rc=$?
if [ "$rc" -eq 0 ]; then
    rm -f "$unit_dir/multi-user.target.wants/$unit-boot.service" "$unit_dir/$unit-boot.service" "$0"
    sync
fi
exit "$rc"
JOB
    # Each argument in double quotes for systemd (the caller refuses paths with quotes, $, %, \).
    args=
    for a in "$UNIT" "$UNIT_DIR" "$@"; do
        args="$args \"$a\""
    done
    cat >"$boot" <<UNITFILE || exit 1
# guest-disk-agent: fix-netplan's way back after a reboot (the change was never confirmed)
[Unit]
Description=guest-disk-agent: restore the netplan files of an unconfirmed fix-netplan
Wants=network.target
After=network.target

[Service]
Type=oneshot
ExecStart=/bin/sh "$job"$args

[Install]
WantedBy=multi-user.target
UNITFILE
    chmod 644 "$boot" && ln -sf "$boot" "$wants" || exit 1
    sync
    systemd-run --quiet --service-type=oneshot --unit="$UNIT" --on-active="${FIRES_IN}s" \
        /bin/sh "$job" "$UNIT" "$UNIT_DIR" "$@" || {
        rc=$?
        rm -f "$wants" "$boot" "$job"
        exit "$rc"
    }
}

case $ACTION in
backup)
    backup_files "$@" || exit 1
    ;;
arm)
    arm "$@"
    ;;
backup-arm)
    # One run for both (each is a round trip on the console): a backup that fails exits 3, before
    # anything is armed.
    backup_files "$@" || exit 3
    arm "$@"
    ;;
restore)
    # Put the old files back and regenerate (the running state is the caller's); remove the way back
    # only when that worked: otherwise the timer (and the boot unit) still restore them.
    restore_files "$@" || exit 1
    netplan generate || exit $?
    cancel || {
        echo "could not remove $boot" >&2
        exit 1
    }
    ;;
cancel)
    cancel || {
        echo "could not remove $boot" >&2
        exit 1
    }
    ;;
fire)
    # Restore and re-apply the old configuration right away: the timer's own job, run now.
    systemctl start "$UNIT.service"
    ;;
confirm-try)
    # SIGUSR1 is `netplan try`'s "accept"; the [n] keeps pkill from matching this shell.
    pkill -USR1 -f '^[^ ]*python[^ ]* [^ ]*[n]etplan try' || exit 1
    cancel || {
        echo "could not remove $boot" >&2
        exit 3
    }
    ;;
*)
    echo "unknown action $ACTION" >&2
    exit 2
    ;;
esac
