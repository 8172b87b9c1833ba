#!/bin/sh
# Stratus guest /init (busybox sh, runs as PID 1 from the initramfs).
# ShellCheck has no busybox dialect; dash is the nearest (POSIX sh plus `local`, as busybox ash has).
# shellcheck shell=dash
#
# It proves a Stratus-provisioned server came up right: disks attached, the
# config drive readable (a config-2 device, or the tree in the initramfs after a
# PXE boot), DHCP working, the flavor's memory and vCPUs there. The serial console gets:
#   STRATUS-GUEST image label=<the stratus.image= of the kernel command line, or ->
#   STRATUS-GUEST hardware mem_kb=<MemTotal in kB> cpus=<online CPUs>
#   STRATUS-GUEST disks vda=<bytes> sr0=<bytes> ...
#   STRATUS-GUEST user_data bytes=<n> sha256=<hex or ->
#   STRATUS-GUEST public_key name=<key name> sha256=<hex of the key text>   (one per key)
#   STRATUS-GUEST file path=<path> sha256=<hex of its content>   (one per injected file)
#   STRATUS-GUEST ready name=<name> uuid=<uuid> ip=<ipv4>
# with "-" for anything not found, then a heartbeat every 5 s while it runs:
#   STRATUS-GUEST alive uptime=<whole seconds since boot>
# (a live migration shows as the heartbeat going on, uptime growing, on the new host's
# console without a new ready line). PID 1 must never exit (kernel panic).

export PATH=/sbin:/bin:/usr/sbin:/usr/bin
CFG=/mnt/config
# A PXE boot (plugins/module_utils/baremetal/pxe.py) has no config-2 device: the config drive tree
# comes as a second initrd, unpacked beside this script into the one initramfs.
INITRD_CFG=/stratus/config-2
MD_REL=openstack/latest/meta_data.json
UD_REL=openstack/latest/user_data

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /run /tmp "$CFG"
# Only errors from the kernel from here on, so they do not split our lines.
echo 1 > /proc/sys/kernel/printk

# Our lines go to the console; also to ttyS0 unless the console already is
# ttyS0 (then a second write would print every line twice on the serial).
say() {
    echo "$*" > /dev/console
    grep -qw ttyS0 /sys/class/tty/console/active 2>/dev/null || echo "$*" > /dev/ttyS0 2>/dev/null
}

load_modules() {
    # The builder lists the needed modules with their dependencies first.
    local kver ko
    kver=$(uname -r)
    while read -r ko; do
        [ -n "$ko" ] && insmod "/lib/modules/$kver/$ko" 2>/dev/null
    done < /etc/stratus/modules.order
}

first_nic() {
    # type 1 = ARPHRD_ETHER; the glob is sorted, so eth0 comes first.
    local n nic
    for n in /sys/class/net/*; do
        nic=${n##*/}
        [ "$nic" = lo ] && continue
        [ "$(cat "$n/type" 2>/dev/null)" = 1 ] && { echo "$nic"; return 0; }
    done
    return 1
}

run_dhcp() {
    local nic="" i=0
    ip link set lo up
    while [ $i -lt 30 ]; do   # NIC probing is normally done already
        nic=$(first_nic) && break
        sleep 0.1
        i=$((i + 1))
    done
    [ -n "$nic" ] || return 1
    ip link set "$nic" up
    # 30 tries x 2 s = gives up after ~60 s (-n): TCG guests booting side by side are slow. On success udhcpc goes to
    # the background and keeps renewing the lease.
    udhcpc -i "$nic" -s /etc/udhcpc.script -t 30 -T 2 -n -p /run/udhcpc.pid \
        >/dev/null 2>&1
}

mount_config() {
    # $1 = device; mount read-only and keep it only if it has the metadata.
    local fs
    for fs in iso9660 vfat; do
        if mount -t "$fs" -o ro "$1" "$CFG" 2>/dev/null; then
            [ -f "$CFG/$MD_REL" ] && return 0
            umount "$CFG" 2>/dev/null
        fi
    done
    return 1
}

find_config_drive() {
    local dev
    dev=$(findfs LABEL=config-2 2>/dev/null)
    [ -n "$dev" ] && mount_config "$dev" && return 0
    # findfs may not know the filesystem: try every candidate by hand.
    for dev in /dev/sr* /dev/vd* /dev/sd*; do
        [ -b "$dev" ] || continue
        mount_config "$dev" && return 0
    done
    return 1
}

wait_config_drive() {
    # ATA/SCSI probing is asynchronous: retry for up to ~15 s.
    local i=0
    while [ $i -lt 30 ]; do
        find_config_drive && return 0
        sleep 0.5
        i=$((i + 1))
    done
    return 1
}

online_cpus() {
    # /sys/devices/system/cpu/online is a list of ranges: "0", "0-3", "0-1,3"
    local n=0 r
    for r in $(tr ',' ' ' < /sys/devices/system/cpu/online 2>/dev/null); do
        n=$((n + ${r#*-} - ${r%-*} + 1))
    done
    echo "$n"
}

report_image() {
    # which of the lab's guest images booted (build.py gives each its own label): a rebuild onto another shows
    local label
    label=$(sed -n 's/.*stratus\.image=\([A-Za-z0-9._-]*\).*/\1/p' /proc/cmdline 2>/dev/null)
    say "STRATUS-GUEST image label=${label:--}"
}

report_hardware() {
    local mem
    mem=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo 2>/dev/null)
    say "STRATUS-GUEST hardware mem_kb=${mem:--} cpus=$(online_cpus)"
}

report_disks() {
    local line="STRATUS-GUEST disks" b dev sectors
    for b in /sys/block/*; do
        [ -e "$b" ] || continue
        dev=${b##*/}
        case "$dev" in loop*|ram*|zram*) continue ;; esac
        sectors=$(cat "$b/size" 2>/dev/null || echo 0)
        line="$line $dev=$((sectors * 512))"
    done
    say "$line"
}

report_user_data() {
    local f="$CFG/$UD_REL" n sum
    if [ -f "$f" ]; then
        n=$(wc -c < "$f")
        sum=$(sha256sum "$f" | cut -d' ' -f1)
        say "STRATUS-GUEST user_data bytes=$((n)) sha256=${sum:--}"
    else
        say "STRATUS-GUEST user_data bytes=0 sha256=-"
    fi
}

report_public_keys() {
    # The key text as meta_data.json carries it (JSON escapes, if any, left in).
    local name key sum
    [ -f "$CFG/$MD_REL" ] || return 0
    awk -v obj=public_keys -f /usr/share/stratus/json_get.awk "$CFG/$MD_REL" 2>/dev/null |
    while IFS="$(printf '\t')" read -r name key; do
        sum=$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)
        say "STRATUS-GUEST public_key name=${name:--} sha256=${sum:--}"
    done
}

report_files() {
    # Injected files (personality) as Nova writes them: meta_data.json's "files" names each
    # path and its content file, /content/NNNN, under openstack/ on the drive.
    local path cpath sum
    [ -f "$CFG/$MD_REL" ] || return 0
    awk -v arr=files -f /usr/share/stratus/json_get.awk "$CFG/$MD_REL" 2>/dev/null |
    while IFS="$(printf '\t')" read -r path cpath; do
        sum=-
        case "$cpath" in
            /content/[0-9][0-9][0-9][0-9])
                [ -f "$CFG/openstack$cpath" ] && sum=$(sha256sum "$CFG/openstack$cpath" | cut -d' ' -f1) ;;
        esac
        say "STRATUS-GUEST file path=${path:--} sha256=${sum:--}"
    done
}

meta_value() {
    # Top-level string value of key $1 in meta_data.json, or nothing.
    [ -f "$CFG/$MD_REL" ] || return 0
    awk -v key="$1" -f /usr/share/stratus/json_get.awk "$CFG/$MD_REL" 2>/dev/null
}

load_modules
run_dhcp &
dhcp_pid=$!

if [ -f "$INITRD_CFG/$MD_REL" ]; then
    CFG=$INITRD_CFG
else
    wait_config_drive
fi
name=$(meta_value name)
uuid=$(meta_value uuid)
[ -n "$name" ] && hostname "$name"

report_image
report_hardware
report_disks
report_user_data
report_public_keys
report_files

wait "$dhcp_pid"
ip=$(cat /run/stratus-ip 2>/dev/null)
say "STRATUS-GUEST ready name=${name:--} uuid=${uuid:--} ip=${ip:--}"

# Stay up (udhcpc keeps renewing in the background), saying so every 5 s.
while :; do
    sleep 5
    read -r up _ < /proc/uptime
    say "STRATUS-GUEST alive uptime=${up%%.*}"
done
