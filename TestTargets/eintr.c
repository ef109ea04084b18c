/* eintr: threads parked in blocking system calls that count how often the
 * call returns EINTR, to measure what attaching does to them (ptrace(2):
 * a ptrace-stop may make a blocked call return EINTR).  No signal handler
 * is installed, so any EINTR comes from the stops alone.
 * Usage: eintr [N]  (N threads per kind, default 1).  Kinds: epoll_wait,
 * poll, nanosleep, read (pipe), futex (pthread_cond_wait), sigtimedwait
 * (SIGUSR2 blocked, never sent).
 * Prints pid=, ready.  Commands: "count" -> epoll_wait=N poll=N nanosleep=N
 * read=N futex=N sigtimedwait=N (EINTR returns of each kind so far);
 * "exit N".  EOF exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include "command_line.h"

enum { EPOLL, POLL, NANOSLEEP, READ, FUTEX, SIGWAIT, KINDS };
static const char *names[KINDS] = {"epoll_wait", "poll", "nanosleep", "read", "futex", "sigtimedwait"};
static unsigned long eintr[KINDS];
static int pipe_fds[2];
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t barrier;

static void count(int kind, int result)
{
    if (result < 0 && errno == EINTR)
        __atomic_add_fetch(&eintr[kind], 1, __ATOMIC_RELAXED);
}

static void *blocker(void *arg)
{
    int kind = (int)(long)arg;
    int ep = epoll_create1(0);
    struct pollfd p = {.fd = pipe_fds[0], .events = POLLIN};
    struct timespec hour = {.tv_sec = 3600};
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    char byte;
    pthread_barrier_wait(&barrier);
    for (;;) {
        struct epoll_event ev;
        switch (kind) {
        case EPOLL: count(kind, epoll_wait(ep, &ev, 1, -1)); break;
        case POLL: count(kind, poll(&p, 1, -1)); break;
        case NANOSLEEP: count(kind, nanosleep(&hour, &hour)); hour.tv_sec = 3600; break;
        case READ: count(kind, (int)read(pipe_fds[0], &byte, 1)); break;
        case FUTEX:
            pthread_mutex_lock(&mutex);
            pthread_cond_wait(&never, &mutex); /* retries EINTR inside glibc */
            pthread_mutex_unlock(&mutex);
            break;
        case SIGWAIT: count(kind, sigtimedwait(&usr2, NULL, &hour)); break;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1;
    if (n < 1 || n > 16) {
        fprintf(stderr, "usage: eintr [1..16]\n");
        return 2;
    }
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, NULL); /* inherited: sigtimedwait owns it */
    if (pipe(pipe_fds) != 0) return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_barrier_init(&barrier, NULL, (unsigned)(n * KINDS + 1));
    for (int k = 0; k < KINDS; k++)
        for (int i = 0; i < n; i++) {
            pthread_t t;
            if (pthread_create(&t, NULL, blocker, (void *)(long)k) != 0) return 1;
        }
    pthread_barrier_wait(&barrier);
    usleep(20000); /* let every thread reach its blocking call */
    printf("pid=%d\nready\n", (int)getpid());
    char line[256];
    for (;;) {
        if (!read_command(line, sizeof line))
            return 0;
        int code;
        if (strncmp(line, "count", 5) == 0) {
            for (int k = 0; k < KINDS; k++)
                printf("%s%s=%lu", k ? " " : "", names[k], __atomic_load_n(&eintr[k], __ATOMIC_RELAXED));
            printf("\n");
        } else if (sscanf(line, "exit %d", &code) == 1) {
            exit(code);
        } else {
            printf("error\n");
        }
    }
}
