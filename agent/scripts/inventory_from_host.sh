# shellcheck shell=sh
# guest-disk-agent: read a vm-bhyve host's guests for `gda inventory --from-host` (one round trip).
#   @@GDA-VMINV v1 nonce=N@@, OBS vm_command=<the vm command found>, OBS vm_dir=<rc.conf's vm_dir>,
#   OBS dir=<where vm_dir is: zfs:pool/ds resolved by zfs get mountpoint>, OBS dataset=<the ZFS dataset
#   or empty>, a "vm_list" section (`"$@" list`: vm-bhyve's listing, its stderr and status), then for
#   every folder NAME of dir holding NAME/NAME.conf (what core::list lists for the default datastore) a
#   "conf_hex" section NAME: the conf as an od hex dump (od -An -v -tx1: every byte as it is); then for
#   every other datastore of $vm_dir/.config/system.conf (datastore_list, path_<DS>): OBS
#   datastore.<DS>=<its path spec>, OBS datastore_dir.<DS>=<its folder> when found, and its guests'
#   "conf_hex" sections <DS>/<NAME>. A folder
#   whose name is not a vm-bhyve name (letters, digits, '.', '_', '-') is not read: a "skipped" section
#   holds each such name as hex, one a line. RESULT, DONE.
# Refusals (OBS error, RESULT, exit): no vm command (EXIT_NO_VM), vm_dir not set in rc.conf
#   (EXIT_NO_VM_DIR; vm list's own words are still printed), zfs get mountpoint failed
#   (EXIT_NO_MOUNTPOINT), no temporary directory (EXIT_NO_TEMP).
# Prelude: N (nonce), EXIT_OK, EXIT_NO_VM, EXIT_NO_VM_DIR, EXIT_NO_MOUNTPOINT, EXIT_NO_TEMP;
#   "$@": how vm-bhyve's vm runs (e.g. vm, or sudo vm), as words.
# shellcheck disable=SC2154

PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin"
LC_ALL=C
export PATH LC_ALL

gda_header VMINV 1

vi_fail() {
    gda_obs error "$3"
    gda_result "$1" "$2"
    gda_done
    exit "$1"
}

T=$(mktemp -d "${TMPDIR:-/tmp}/gda-vminv.XXXXXX") || vi_fail "$EXIT_NO_TEMP" no-temp-dir "cannot create a temporary directory"
trap 'rm -rf "$T"' EXIT

if ! vi_found=$(command -v "$1" 2>/dev/null) || [ -z "$vi_found" ]; then
    vi_fail "$EXIT_NO_VM" no-vm "no $1 command on the host (PATH=$PATH): is vm-bhyve installed (package vm-bhyve)?"
fi
gda_obs vm_command "$vi_found"
vm_dir=$(sysrc -n vm_dir 2>/dev/null) || vm_dir=""
gda_obs vm_dir "$vm_dir"
if [ -z "$vm_dir" ]; then
    gda_run vm_list - "$@" list
    vi_fail "$EXIT_NO_VM_DIR" no-vm-dir "vm_dir is not set in rc.conf (is vm-bhyve set up? vm init, sysrc vm_dir=...)"
fi
case $vm_dir in
    zfs:*)
        ds=${vm_dir#zfs:}
        if ! dir=$(zfs get -H -o value mountpoint "$ds" 2>"$T/zfs.err"); then
            vi_fail "$EXIT_NO_MOUNTPOINT" no-mountpoint "zfs get mountpoint $ds failed: $(cat "$T/zfs.err")"
        fi
        ;;
    *)
        ds=""
        dir=$vm_dir
        ;;
esac
# vi_confs PREFIX DIR: a "conf_hex" section PREFIX<NAME> for every DIR/NAME/NAME.conf (names vm-bhyve
# would not take go to $T/skipped as hex)
vi_confs() {
    for vi_path in "$2"/*; do
        [ -d "$vi_path" ] || continue
        vi_name=${vi_path##*/}
        case $vi_name in
            *[!A-Za-z0-9._-]* | [!A-Za-z0-9]*)
                printf '%s' "$1$vi_name" | od -An -v -tx1 | tr -d ' \n' >>"$T/skipped"
                echo >>"$T/skipped"
                continue
                ;;
        esac
        [ -f "$vi_path/$vi_name.conf" ] || continue
        gda_run conf_hex "$1$vi_name" od -An -v -tx1 "$vi_path/$vi_name.conf"
    done
}
gda_obs dir "$dir"
gda_obs dataset "$ds"
gda_run vm_list - "$@" list
vi_confs "" "$dir"
# the other datastores: datastore_list and path_<name> in $vm_dir/.config/system.conf, read as vm-bhyve's
# config::core::load does (lib/vm-config); iso: and img: stores hold no guests (datastore::get)
vi_core() {
    grep '^[a-z]' "$dir/.config/system.conf" 2>/dev/null | awk -F# '{print $1}' | sed -e 's@ *$@@' | tr -d '"'
}
vi_core_get() {
    vi_core | awk -v k="$1" '{ i = index($0, "="); if (i > 0 && substr($0, 1, i - 1) == k) { print substr($0, i + 1); exit } }'
}
for vi_ds in $(vi_core_get datastore_list); do
    case $vi_ds in
        *[!A-Za-z0-9._-]* | default) continue ;;
    esac
    vi_spec=$(vi_core_get "path_$vi_ds")
    case $vi_spec in
        iso:* | img:*) continue ;;
        zfs:*)
            vi_ds_dir=$(zfs get -H -o value mountpoint "${vi_spec#zfs:}" 2>/dev/null) || vi_ds_dir=""
            ;;
        *) vi_ds_dir=$vi_spec ;;
    esac
    gda_obs "datastore.$vi_ds" "$vi_spec"
    if [ -n "$vi_ds_dir" ] && [ -d "$vi_ds_dir" ]; then
        gda_obs "datastore_dir.$vi_ds" "$vi_ds_dir"
        vi_confs "$vi_ds/" "$vi_ds_dir"
    fi
done
if [ -s "$T/skipped" ]; then gda_begin skipped -; gda_cat "$T/skipped"; gda_end 0; fi
gda_result "$EXIT_OK" ok
gda_done
exit "$EXIT_OK"
