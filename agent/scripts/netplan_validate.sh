# shellcheck shell=sh
# guest-disk-agent: validate the netplan configuration with netplan's generator in a scratch root.
# It copies /etc/netplan (and /run/netplan, /lib/netplan) into a temporary root and generates there,
# without touching /run/systemd/network: `netplan try` backs up /run's generated config and reverts to
# it, so generating in place first would make that backup the *new* config and the revert a no-op.
# Prelude: N (unused).
t=$(mktemp -d) || exit 1
rc=1
if mkdir -p "$t/etc" "$t/run" "$t/lib" && cp -a /etc/netplan "$t/etc/" \
    && { [ ! -d /run/netplan ] || cp -a /run/netplan "$t/run/"; } \
    && { [ ! -d /lib/netplan ] || cp -a /lib/netplan "$t/lib/"; }; then
    # `netplan generate --root-dir` only runs netplan's generator with the same arguments (netplan
    # cli/commands/generate.py): run it directly and spare the Python CLI's start-up (seconds under
    # emulation); where no generator binary is found, the CLI
    gen=
    for g in /usr/libexec/netplan/generate /lib/netplan/generate /usr/lib/netplan/generate; do
        if [ -x "$g" ]; then gen=$g; break; fi
    done
    if [ -n "$gen" ]; then "$gen" --root-dir "$t"; else netplan generate --root-dir "$t"; fi
    rc=$?
fi
rm -rf "$t"
exit "$rc"
