/* demo: the teaching target for `make demo`.  It has something in every
 * kind of memory: an initialised global (data), a zeroed global array (bss),
 * a malloc'd string (heap), a three-deep recursion main -> descend(1) ->
 * descend(2) -> descend(3) (stack), and two extra threads parked in worker().
 * Prints pid=, global=, bss=, heap=, string=, local=, sbrk0= (and a few
 * more), ready; then parks in pause() in the innermost descend() frame.
 * Usage: demo [--exit-after N]  (exit 0 after N seconds instead of forever) */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv);

int demo_global = 42;          /* .data */
char demo_bss[4096];           /* .bss */
static char *heap_string;      /* points into the heap */
static unsigned long sbrk0;
static volatile int parked = 1; /* opaque loop condition: the park loop
                                   can end, so no -Winfinite-recursion */
static pthread_barrier_t barrier;
static int worker_tids[2];

static void on_alarm(int sig)
{
    (void)sig;
    _exit(0);
}

__attribute__((noinline)) void *worker(void *arg)
{
    worker_tids[(long)arg] = (int)syscall(SYS_gettid);
    pthread_barrier_wait(&barrier);
    for (;;)
        pause();
    return NULL;
}

__attribute__((noinline)) int descend(int depth)
{
    volatile int local = depth * 100;
    if (depth < 3)
        return descend(depth + 1) + local;
    printf("pid=%d\n", (int)getpid());
    printf("global=0x%lx\n", (unsigned long)&demo_global);
    printf("global_value=%d\n", demo_global);
    printf("bss=0x%lx\n", (unsigned long)demo_bss);
    printf("heap=0x%lx\n", (unsigned long)heap_string);
    printf("string=0x%lx\n", (unsigned long)heap_string);
    printf("local=0x%lx\n", (unsigned long)&local);
    printf("sbrk0=0x%lx\n", sbrk0);
    printf("main=0x%lx\n", (unsigned long)(uintptr_t)&main);
    printf("descend=0x%lx\n", (unsigned long)(uintptr_t)&descend);
    for (int i = 0; i < 2; i++)
        printf("thread index=%d tid=%d\n", i, worker_tids[i]);
    printf("ready\n");
    while (parked)
        pause();
    return local;
}

int main(int argc, char **argv)
{
    sbrk0 = (unsigned long)sbrk(0);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "--exit-after") == 0) {
        signal(SIGALRM, on_alarm);
        alarm((unsigned)atoi(argv[2]));
    } else if (argc != 1) {
        fprintf(stderr, "usage: demo [--exit-after SECONDS]\n");
        return 2;
    }
    heap_string = malloc(64);
    if (!heap_string)
        return 1;
    strcpy(heap_string, "hello from the heap");
    pthread_barrier_init(&barrier, NULL, 3);
    for (long i = 0; i < 2; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, (void *)i) != 0)
            return 1;
    }
    pthread_barrier_wait(&barrier);
    return descend(1);
}
