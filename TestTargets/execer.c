/* execer: replaces itself on request, to test exec handling while attached.
 * Usage: execer PATH [ARGS...].  Prints pid=, ready, waits for one stdin
 * line (EOF exits 0), then execv(PATH, [PATH, ARGS...]).  If execv fails it
 * prints exec=fail errno=N and exits 127. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char line[256];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: execer PATH [ARGS...]\n");
        return 2;
    }
    printf("pid=%d\nready\n", (int)getpid());
    if (!fgets(line, sizeof line, stdin))
        return 0;
    execv(argv[1], argv + 1);
    printf("exec=fail errno=%d\n", errno);
    return 127;
}
