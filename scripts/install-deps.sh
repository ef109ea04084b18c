#!/bin/sh
# Installs the system packages vmscope builds against, only when missing.
# Used by `make demo` and `make test`, so a fresh Debian machine with Swift
# needs nothing else.
set -eu
PACKAGES="libunwind-dev libreadline-dev liblzma-dev libcapstone-dev pkg-config libc6-dbg libdw-dev"

missing=""
pkg-config --exists libunwind-ptrace 2>/dev/null || missing="$missing libunwind-dev"
[ -f /usr/include/readline/readline.h ] || missing="$missing libreadline-dev"
[ -f /usr/include/lzma.h ] || missing="$missing liblzma-dev"
[ -f /usr/include/capstone/capstone.h ] || missing="$missing libcapstone-dev"
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
# libc's static functions (__libc_start_call_main) are named only by its debug file.
dpkg -s libc6-dbg >/dev/null 2>&1 || missing="$missing libc6-dbg"
[ -f /usr/include/elfutils/libdwfl.h ] || missing="$missing libdw-dev"
command -v cc >/dev/null 2>&1 || missing="$missing gcc"
# TestTargets/Makefile builds recurse-minidebug with binutils and xz.
command -v objcopy >/dev/null 2>&1 || missing="$missing binutils"
command -v xz >/dev/null 2>&1 || missing="$missing xz-utils"
# The interactive shell's tests drive it through a pseudo-terminal with tmux.
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
[ -z "$missing" ] && exit 0

echo "vmscope: installing missing packages:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "vmscope: need root or sudo to run: apt-get install -y $PACKAGES" >&2
    exit 1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
