# shellcheck shell=sh
# guest-disk-agent: SOURCE's content as base64 in one section, and its sha256 as an observation.
# Prelude: N, SOURCE (an absolute path).
# shellcheck disable=SC2154
gda_header FILE 1
if [ ! -f "$SOURCE" ]; then
    gda_result 1 not-a-file
    exit 1
fi
gda_begin content -
base64 <"$SOURCE"
rc=$?
gda_end "$rc"
sum=$(sha256sum <"$SOURCE") || sum=
gda_obs sha256 "${sum%% *}"
gda_done
exit "$rc"
