/* forker: forks short-lived children on request, to test fork/exit events.
 * Prints pid=, ready.  Commands: "fork N" -> forks N children that exit(0)
 * at once, reaps them, prints forked=N ok=K (K = children with status 0);
 * "exit N".  EOF exits 0; unknown commands print "error". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "command_line.h"

int main(void)
{
    char line[256];
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("pid=%d\nready\n", (int)getpid());
    for (;;) {
        if (!read_command(line, sizeof line))
            return 0;
        int n;
        if (sscanf(line, "fork %d", &n) == 1 && n >= 0) {
            int forked = 0, ok = 0;
            for (int i = 0; i < n; i++) {
                pid_t c = fork();
                if (c == 0)
                    _exit(0);
                if (c > 0)
                    forked++;
            }
            for (int i = 0; i < forked; i++) {
                int st;
                pid_t w;
                while ((w = wait(&st)) < 0 && errno == EINTR)
                    ;
                if (w > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
                    ok++;
            }
            printf("forked=%d ok=%d\n", forked, ok);
        } else if (sscanf(line, "exit %d", &n) == 1) {
            exit(n);
        } else {
            printf("error\n");
        }
    }
}
