/* segv: faults on request, to test how the debugger reports a fatal signal.
 * Usage: segv null|overflow.  Prints pid=, ready, waits for one stdin line
 * (e.g. "go"; EOF exits 0), then writes through a NULL pointer ("null") or
 * recurses endlessly with 256-byte frames until the stack overflows. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile int keep_going = 1; /* opaque: avoids -Winfinite-recursion */

__attribute__((noinline)) int overflow(int depth)
{
    volatile char pad[256];
    pad[0] = (char)depth;
    int r = keep_going ? overflow(depth + 1) : 0;
    return r + pad[0]; /* non-tail */
}

int main(int argc, char **argv)
{
    char line[256];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2 || (strcmp(argv[1], "null") && strcmp(argv[1], "overflow"))) {
        fprintf(stderr, "usage: segv null|overflow\n");
        return 2;
    }
    printf("pid=%d\nready\n", (int)getpid());
    if (!fgets(line, sizeof line, stdin))
        return 0;
    if (strcmp(argv[1], "null") == 0) {
        volatile int *volatile p = NULL;
        *p = 42;
        return 0;
    }
    return overflow(0);
}
