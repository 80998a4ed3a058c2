# shellcheck shell=sh
# guest-disk-agent: write stdin to TARGET atomically: a private temporary file next to it, checked
# against SHA256, given MODE, then renamed over TARGET. Nothing of the content is on a command line.
# Prelude: N, TARGET (an absolute path), MODE (octal, e.g. 0600), SHA256 (of the content).
# shellcheck disable=SC2154
umask 077
dir=${TARGET%/*}
[ -n "$dir" ] || dir=/
tmp=$(mktemp "$dir/.gda-write.XXXXXXXX") || { echo "cannot create a temporary file in $dir" >&2; exit 1; }
if ! cat >"$tmp"; then
    rm -f "$tmp"
    echo "writing $tmp failed" >&2
    exit 1
fi
got=$(sha256sum <"$tmp") || got=
got=${got%% *}
if [ "$got" != "$SHA256" ]; then
    rm -f "$tmp"
    echo "the content received does not match its checksum (got ${got:-nothing})" >&2
    exit 1
fi
if ! chmod "$MODE" "$tmp" || ! mv -f "$tmp" "$TARGET"; then
    rm -f "$tmp"
    exit 1
fi
