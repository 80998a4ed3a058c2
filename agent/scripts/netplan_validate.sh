# shellcheck shell=sh
# guest-disk-agent: validate the netplan configuration with `netplan generate` in a scratch root.
# It copies /etc/netplan (and /run/netplan, /lib/netplan) into a temporary root and generates there,
# without touching /run/systemd/network: `netplan try` backs up /run's generated config and reverts to
# it, so generating in place first would make that backup the *new* config and the revert a no-op.
# Prelude: N (unused).
t=$(mktemp -d) || exit 1
rc=1
if mkdir -p "$t/etc" "$t/run" "$t/lib" && cp -a /etc/netplan "$t/etc/" \
    && { [ ! -d /run/netplan ] || cp -a /run/netplan "$t/run/"; } \
    && { [ ! -d /lib/netplan ] || cp -a /lib/netplan "$t/lib/"; }; then
    netplan generate --root-dir "$t"
    rc=$?
fi
rm -rf "$t"
exit "$rc"
