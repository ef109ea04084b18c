/* threads: a multi-threaded process with every thread parked at a known
 * place (main -> pause loop; thread_start -> worker -> worker_park -> pause).
 * Usage: threads [N]  (N worker threads, default 4).  Prints pid=, one
 * "thread index=I tid=T local=0x.." line per thread (by index),
 * "main_tid=T local=0x..", ready. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_THREADS 256

static pthread_barrier_t barrier;
static int tids[MAX_THREADS];
static unsigned long locals[MAX_THREADS];

__attribute__((noinline)) static void worker_park(int index)
{
    volatile int local = index;
    tids[index] = (int)syscall(SYS_gettid);
    locals[index] = (unsigned long)&local;
    pthread_barrier_wait(&barrier);
    for (;;)
        pause();
}

__attribute__((noinline)) void *worker(void *arg)
{
    worker_park((int)(long)arg);
    return NULL;
}

int main(int argc, char **argv)
{
    volatile int local = 0;
    int n = argc > 1 ? atoi(argv[1]) : 4;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (n < 0 || n > MAX_THREADS) {
        fprintf(stderr, "usage: threads [0..%d]\n", MAX_THREADS);
        return 2;
    }
    pthread_barrier_init(&barrier, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, (void *)(long)i) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    pthread_barrier_wait(&barrier); /* all workers have recorded tid/local */
    printf("pid=%d\n", (int)getpid());
    for (int i = 0; i < n; i++)
        printf("thread index=%d tid=%d local=0x%lx\n", i, tids[i], locals[i]);
    printf("main_tid=%d local=0x%lx\n", (int)syscall(SYS_gettid),
           (unsigned long)&local);
    printf("ready\n");
    for (;;)
        pause();
}
