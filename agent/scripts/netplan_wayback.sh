# shellcheck shell=sh
# guest-disk-agent: fix-netplan's way back: backups of the files it changes, a transient systemd timer
# that restores them and re-applies the old configuration unless it is cancelled, and a unit run at
# boot that does the same when the guest reboots before the change was confirmed (the transient timer
# does not survive a reboot).
# Prelude: N (unused), ACTION (backup | arm | arm-install, which is both and more | restore | cancel |
# fire | confirm-try), UNIT (the units' name), FIRES_IN (seconds, for arm), UNIT_DIR (/etc/systemd/system),
# STATE_DIR (where the job script lives: it must survive a reboot), ROOT (where netplan's folders are
# validated from: empty, the guest's own; a scratch tree in the tests), the exit statuses of arm-install
# (EXIT_BACKUP, EXIT_ARM, EXIT_INVALID, EXIT_INSTALL, EXIT_UNDO); argv: pairs of PATH BACKUP. A PATH that did not
# exist at the backup gets a marker BACKUP.absent instead: the way back removes PATH. arm-install puts
# the new content of each PATH in place from its staged file, .NAME.UNIT.new next to it (hidden, and
# not *.yaml: netplan never reads it).
# shellcheck disable=SC2154

job="$STATE_DIR/$UNIT.sh"
boot="$UNIT_DIR/$UNIT-boot.service"
wants="$UNIT_DIR/multi-user.target.wants/$UNIT-boot.service"

# write_stdin FILE: stdin into FILE with builtins only (a cat is a fork, tens of ms on a slow guest)
write_stdin() {
    while IFS= read -r _l; do printf '%s\n' "$_l"; done >"$1"
}

# The way back is gone only when its boot unit is: a unit left behind would undo a confirmed change at
# the next boot.
# (systemd-run --collect unloads the timer's service even when it ran and failed: no reset-failed here,
# one systemctl fewer, tens of ms under emulation)
cancel() {
    systemctl stop "$UNIT.timer" 2>/dev/null
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

# backup_files PAIRS: each PATH copied to its BACKUP (or BACKUP.absent made), then synced unless
# $backup_sync is empty (arm-install: arm's own sync follows before anything is changed, one sync for both)
backup_sync=1
backup_files() {
    while [ $# -ge 2 ]; do
        if [ -e "$1" ]; then
            cp -p "$1" "$2" || return 1
        else
            mkdir -p "${2%/*}" && : >"$2.absent" || return 1
        fi
        shift 2
    done
    [ -z "$backup_sync" ] || sync
}

# Arm the way back (exits 1, or systemd-run's status, when it cannot).
arm() {
    # The job is a script file of its own, given the pairs as arguments: a command line with shell
    # syntax in it does not survive the daemon-reload that netplan apply does (systemd re-reads the
    # transient unit and splits it at the ";"), and systemd expands $NAME in it. It lives in STATE_DIR
    # (not /run) for the boot unit.
    umask 077
    { [ -d "$STATE_DIR" ] && [ -d "${wants%/*}" ]; } || mkdir -p "$STATE_DIR" "${wants%/*}" || return 1
    write_stdin "$job" <<'JOB' || return 1
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
    umask 022 # the unit file is 0644
    write_stdin "$boot" <<UNITFILE || return 1
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
    umask 077
    ln -sf "$boot" "$wants" || return 1
    sync
    systemd-run --quiet --collect --service-type=oneshot --unit="$UNIT" --on-active="${FIRES_IN}s" \
        /bin/sh "$job" "$UNIT" "$UNIT_DIR" "$@" || {
        rc=$?
        rm -f "$wants" "$boot" "$job"
        return "$rc"
    }
}

# The staged new files (arm-install): put in place, or removed when the change does not go ahead.
# staged_of PATH: $new is PATH's staged file (agent/ops/netplan_apply.py WayBack.staged names the same)
staged_of() { new="${1%/*}/.${1##*/}.$UNIT.new"; }

install_staged() {
    while [ $# -ge 2 ]; do
        staged_of "$1"
        if [ -e "$new" ]; then mv -f "$new" "$1" || return 1; fi
        shift 2
    done
}

drop_staged() {
    while [ $# -ge 2 ]; do
        staged_of "$1"
        rm -f "$new"
        shift 2
    done
}

# validate PAIRS: the netplan configuration as it will be, checked with netplan's generator in a
# scratch root (the folder $vdir): /etc/netplan (and /run/netplan, /lib/netplan) copied there, each
# staged file over its PATH, and generated there, without touching /run/systemd/network: `netplan try`
# backs up /run's generated config and reverts to it, so generating in place first would make that
# backup the *new* config and the revert a no-op. The folder and the generator's words ($vdir.out) are
# removed when it accepts the configuration; else they are the caller's (checked).
validate() {
    mkdir -m 700 "$vdir" || return 1
    dirs=etc/netplan
    for d in run/netplan lib/netplan; do
        [ ! -d "$ROOT/$d" ] || dirs="$dirs $d"
    done
    # One cp for all three (GNU cp's --parents keeps each path under the folder); else one cp each
    # shellcheck disable=SC2086 # $dirs: words on purpose, none with a space
    if ! (cd "$ROOT/" && cp -a --parents $dirs "$vdir/") 2>/dev/null; then
        for d in $dirs; do
            { mkdir -p "$vdir/${d%/*}" && cp -a "$ROOT/$d" "$vdir/${d%/*}/"; } || return 1
        done
    fi
    while [ $# -ge 2 ]; do
        staged_of "$1"
        case ${1#"$ROOT"/} in
        etc/netplan/* | run/netplan/* | lib/netplan/*) cp -p "$new" "$vdir/${1#"$ROOT"/}" || return 1 ;;
        esac
        shift 2
    done
    # `netplan generate --root-dir` only runs netplan's generator with the same arguments (netplan
    # cli/commands/generate.py): run it directly and spare the Python CLI's start-up (seconds under
    # emulation); where no generator binary is found, the CLI
    gen=
    for g in /usr/libexec/netplan/generate /lib/netplan/generate /usr/lib/netplan/generate; do
        if [ -x "$g" ]; then gen=$g; break; fi
    done
    if [ -n "$gen" ]; then "$gen" --root-dir "$vdir"; else netplan generate --root-dir "$vdir"; fi >"$vdir.out" 2>&1
    rc=$?
    [ "$rc" -ne 0 ] || rm -rf "$vdir" "$vdir.out"
    return "$rc"
}

# checked: wait for validate (started in the background as $checking); when it failed, the generator's
# words on stderr and its folder gone
checked() {
    wait "$checking" && return 0
    [ ! -f "$vdir.out" ] || gda_cat "$vdir.out" >&2
    rm -rf "$vdir" "$vdir.out"
    return 1
}

case $ACTION in
backup)
    backup_files "$@" || exit 1
    ;;
arm)
    arm "$@"
    ;;
arm-install)
    # The whole change in one run (each run is a round trip on the console). The configuration as it
    # will be is validated (in the background: the guest backs up and arms the way back meanwhile);
    # only when all three worked are the staged files put in place. A configuration the
    # generator rejects changes nothing (the way back is removed again); files that cannot be put in
    # place are undone at once (the old files back, the way back removed; when even that fails, the
    # armed way back still restores them).
    umask 077
    [ -d "$STATE_DIR" ] || mkdir -p "$STATE_DIR" || exit "$EXIT_ARM"
    vdir="$STATE_DIR/validate.$N"
    validate "$@" &
    checking=$!
    backup_sync=
    backup_files "$@" || {
        checked 2>/dev/null
        drop_staged "$@"
        exit "$EXIT_BACKUP"
    }
    arm "$@" || {
        checked 2>/dev/null
        drop_staged "$@"
        exit "$EXIT_ARM"
    }
    if ! checked; then
        drop_staged "$@"
        cancel || echo "could not remove $boot (it restores the same files)" >&2
        exit "$EXIT_INVALID"
    fi
    # No sync after the files are in place: until the change is confirmed, the boot unit (synced by
    # arm, with the backups) puts the old files back at any reboot, so the new ones need not be on disk
    # yet; the confirmation's cancel syncs, and that sync writes them too.
    if install_staged "$@"; then exit 0; fi
    drop_staged "$@"
    if restore_files "$@" && cancel; then exit "$EXIT_INSTALL"; fi
    exit "$EXIT_UNDO"
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
