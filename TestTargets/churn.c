/* churn: a process whose threads, children or image keep changing, to test
 * attach and `bt all` against a moving target.
 * Usage: churn MODE
 *   threads      creates batches of 100 short-lived threads, forever
 *   fork         forks children that exit at once and reaps them, forever;
 *                "count" on stdin -> forked=N killed=K (children that did
 *                not exit 0, e.g. killed by a signal)
 *   exec [N]     re-executes itself every millisecond (N counts the execs)
 *   thread-exec [N]  the same, but the exec comes from a second thread
 *                (the kernel kills the others and gives it the leader's id)
 *   exit         exits 0 after 0..4 ms (the delay comes from the pid)
 *   leader-exit  starts 3 threads that park, then the main thread calls
 *                pthread_exit: the leader is a zombie, the process lives on
 * Prints pid=, (leader-exit: "thread tid=T" lines), ready (exec: only the
 * first image prints).  The forever modes end on SIGKILL. */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_barrier_t barrier;
static int tids[3];

static void *short_lived(void *arg) { return arg; }

static char **saved_argv;
static int exec_count;

static void *execer(void *arg)
{
    usleep(1000);
    char count[16];
    snprintf(count, sizeof count, "%d", exec_count + 1);
    execl("/proc/self/exe", saved_argv[0], "thread-exec", count, (char *)NULL);
    return arg;
}

static void *parked(void *arg)
{
    tids[(long)arg] = (int)syscall(SYS_gettid);
    pthread_barrier_wait(&barrier);
    for (;;)
        pause();
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(mode, "exec") == 0) {
        int n = argc > 2 ? atoi(argv[2]) : 0;
        if (n == 0) printf("pid=%d\nready\n", (int)getpid());
        usleep(1000);
        char count[16];
        snprintf(count, sizeof count, "%d", n + 1);
        execl("/proc/self/exe", argv[0], "exec", count, (char *)NULL);
        return 1;
    }
    if (strcmp(mode, "thread-exec") == 0) {
        exec_count = argc > 2 ? atoi(argv[2]) : 0;
        saved_argv = argv;
        if (exec_count == 0) printf("pid=%d\nready\n", (int)getpid());
        pthread_t t;
        if (pthread_create(&t, NULL, execer, NULL) != 0) return 1;
        for (;;) pause();
    }
    if (strcmp(mode, "leader-exit") == 0) {
        pthread_barrier_init(&barrier, NULL, 4);
        for (long i = 0; i < 3; i++) {
            pthread_t t;
            if (pthread_create(&t, NULL, parked, (void *)i) != 0) return 1;
        }
        pthread_barrier_wait(&barrier);
        printf("pid=%d\n", (int)getpid());
        for (int i = 0; i < 3; i++) printf("thread tid=%d\n", tids[i]);
        printf("ready\n");
        pthread_exit(NULL);
    }
    printf("pid=%d\nready\n", (int)getpid());
    if (strcmp(mode, "exit") == 0) {
        usleep((unsigned)(getpid() % 5) * 1000);
        return 0;
    }
    if (strcmp(mode, "threads") == 0) {
        for (;;) {
            pthread_t batch[100];
            int made = 0;
            for (int i = 0; i < 100; i++)
                if (pthread_create(&batch[made], NULL, short_lived, NULL) == 0) made++;
            for (int i = 0; i < made; i++) pthread_join(batch[i], NULL);
        }
    }
    if (strcmp(mode, "fork") == 0) {
        unsigned long forked = 0, killed = 0;
        for (;;) {
            pid_t child = fork();
            if (child == 0) _exit(0);
            int status = 0;
            if (child > 0 && waitpid(child, &status, 0) == child) {
                forked++;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) killed++;
            }
            struct pollfd p = {.fd = 0, .events = POLLIN};
            char line[64];
            if (poll(&p, 1, 0) > 0) {
                if (!fgets(line, sizeof line, stdin)) return 0;
                printf("forked=%lu killed=%lu\n", forked, killed);
            }
        }
    }
    fprintf(stderr, "usage: churn threads|fork|exec|thread-exec|exit|leader-exit\n");
    return 2;
}
