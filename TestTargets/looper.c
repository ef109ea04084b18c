/* looper: runs tick() on request, from every kind of task a debugger must
 * follow while a breakpoint on tick() is armed (reliability, issue #8).
 * Prints pid=, ready (after an exec: pid=, execed=1, ready).  Commands:
 *   loop N       calls tick() N times; prints "looped=N"
 *   ticker on    a background thread calls tick() about every millisecond;
 *   ticker off   stops it; both print "ticker=on|off"
 *   count        prints "ticks=T usr1=U" (tick() calls, SIGUSR1 handled)
 *   fork N       N children, one after another, each call tick() and
 *                _exit(7); prints "forked=N ok=K trapped=S other=O"
 *                (ok: exit status 7; trapped: killed by SIGTRAP)
 *   vfork N      N vfork children, one after another, each call tick() and
 *                _exit(7); prints "vforked=N ok=K trapped=S other=O"
 *   threads N    N threads, one after another, each call tick() and end;
 *                prints "threads=N"
 *   exec         execv(/proc/self/exe, "execed") from the main thread
 *   thread-exec  execv from a second thread (the kernel makes it the leader)
 *   exit N       exit(N).  EOF exits 0; unknown commands print "error". */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "command_line.h"

static volatile long ticks;
static volatile sig_atomic_t usr1;
static volatile int ticker_running;

/* The breakpoint site. */
__attribute__((noinline, noipa)) void tick(void)
{
    __atomic_add_fetch(&ticks, 1, __ATOMIC_RELAXED);
}

/* Never called: a breakpoint here stays armed while the target runs. */
__attribute__((noinline, noipa)) void never_called(void)
{
    puts("never_called ran");
}

static void on_usr1(int sig)
{
    (void)sig;
    usr1++;
}

static void *ticker_main(void *arg)
{
    (void)arg;
    struct timespec ms = {0, 1000000};
    while (ticker_running) {
        tick();
        nanosleep(&ms, NULL);
    }
    return NULL;
}

static void *one_tick(void *arg)
{
    (void)arg;
    tick();
    return NULL;
}

static void *exec_from_thread(void *arg)
{
    (void)arg;
    char *argv[] = {"looper", "execed", NULL};
    execv("/proc/self/exe", argv);
    printf("exec=fail errno=%d\n", errno);
    return NULL;
}

static void do_fork(int n, int use_vfork)
{
    int forked = 0, ok = 0, trapped = 0, other = 0;
    for (int i = 0; i < n; i++) {
        /* A vfork child shares the parent's memory: it only calls tick()
         * and _exit(), which touch nothing the parent relies on. */
        pid_t c = use_vfork ? vfork() : fork();
        if (c == 0) {
            tick();
            _exit(7);
        }
        if (c < 0)
            continue;
        forked++;
        int st;
        while (waitpid(c, &st, 0) < 0 && errno == EINTR)
            ;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 7)
            ok++;
        else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGTRAP)
            trapped++;
        else
            other++;
    }
    printf("%s=%d ok=%d trapped=%d other=%d\n", use_vfork ? "vforked" : "forked", forked, ok, trapped, other);
}

int main(int argc, char **argv)
{
    char line[256];
    pthread_t ticker;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGUSR1, on_usr1);
    printf("pid=%d\n", (int)getpid());
    if (argc > 1 && strcmp(argv[1], "execed") == 0)
        printf("execed=1\n");
    printf("ready\n");
    for (;;) {
        if (!read_command(line, sizeof line))
            return 0;
        int n;
        if (sscanf(line, "loop %d", &n) == 1) {
            for (int i = 0; i < n; i++)
                tick();
            printf("looped=%d\n", n);
        } else if (strcmp(line, "ticker on\n") == 0) {
            if (!ticker_running) {
                ticker_running = 1;
                pthread_create(&ticker, NULL, ticker_main, NULL);
            }
            printf("ticker=on\n");
        } else if (strcmp(line, "ticker off\n") == 0) {
            if (ticker_running) {
                ticker_running = 0;
                pthread_join(ticker, NULL);
            }
            printf("ticker=off\n");
        } else if (strcmp(line, "count\n") == 0) {
            printf("ticks=%ld usr1=%d\n", (long)ticks, (int)usr1);
        } else if (sscanf(line, "fork %d", &n) == 1) {
            do_fork(n, 0);
        } else if (sscanf(line, "vfork %d", &n) == 1) {
            do_fork(n, 1);
        } else if (sscanf(line, "threads %d", &n) == 1) {
            for (int i = 0; i < n; i++) {
                pthread_t t;
                if (pthread_create(&t, NULL, one_tick, NULL) == 0)
                    pthread_join(t, NULL);
            }
            printf("threads=%d\n", n);
        } else if (strcmp(line, "exec\n") == 0) {
            exec_from_thread(NULL);
        } else if (strcmp(line, "thread-exec\n") == 0) {
            pthread_t t;
            pthread_create(&t, NULL, exec_from_thread, NULL);
            pthread_join(t, NULL); /* never returns if the exec succeeds */
        } else if (sscanf(line, "exit %d", &n) == 1) {
            exit(n);
        } else {
            printf("error\n");
        }
    }
}
