/* spawner: starts threads on request, to test that threads created while a
 * debugger is attached are traced and reported.
 * Prints pid=, ready.  Command "thread": starts a thread that calls
 * new_thread_ready(its tid), prints "thread tid=T", then parks in pause().
 * "exit N".  EOF exits 0; unknown commands print "error". */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "command_line.h"

/* The breakpoint target: its argument is the new thread's tid. */
__attribute__((noinline, noipa)) void new_thread_ready(long tid)
{
    printf("thread tid=%ld\n", tid);
}

static void *thread_main(void *arg)
{
    (void)arg;
    new_thread_ready((long)syscall(SYS_gettid));
    for (;;)
        pause();
    return NULL;
}

int main(void)
{
    char line[256];
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("pid=%d\nready\n", (int)getpid());
    for (;;) {
        if (!read_command(line, sizeof line))
            return 0;
        int n;
        pthread_t thread;
        if (strcmp(line, "thread\n") == 0) {
            if (pthread_create(&thread, NULL, thread_main, NULL) != 0)
                printf("error\n");
        } else if (sscanf(line, "exit %d", &n) == 1) {
            exit(n);
        } else {
            printf("error\n");
        }
    }
}
