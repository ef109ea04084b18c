#!/bin/sh
# `make demo`: starts the bundled demo program, waits until it reports that
# it is ready, and opens vmscope on it with the demo's command file. At a
# terminal the shell stays open afterwards; otherwise it runs the file and
# exits. The demo program is stopped when the shell is done.
set -eu
VMSCOPE=${VMSCOPE:-.build/debug/vmscope}
DEMO=${DEMO:-.build/testtargets/demo}
SCRIPT=${SCRIPT:-examples/demo.vms}

fifo=$(mktemp -u /tmp/vmscope-demo.XXXXXX)
mkfifo "$fifo"
"$DEMO" --exit-after 600 > "$fifo" &
demo_pid=$!
trap 'kill $demo_pid 2>/dev/null || true; rm -f "$fifo"' EXIT INT TERM
exec 3< "$fifo"
while read -r line <&3; do
    [ "$line" = ready ] && break
done

if [ -t 0 ]; then
    "$VMSCOPE" --pid "$demo_pid" -x "$SCRIPT"
else
    "$VMSCOPE" --pid "$demo_pid" -x "$SCRIPT" --batch
fi
