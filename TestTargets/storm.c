/* storm: a busy multi-threaded target that counts every signal it gets, to
 * prove that attach/inspect/detach cycles neither lose, add nor hold a
 * signal and never corrupt a running computation.
 * Usage: storm [N]  (N busy worker threads, default 4: 5 threads in all).
 * Every worker recomputes an FNV checksum in registers and counts rounds
 * that differ from the reference.  SIGUSR1 and SIGCHLD are counted; SIGRTMIN
 * carries a sequence number (sigqueue's si_value) that is recorded in a
 * bitmap, so a lost or duplicated real-time signal is named by number.
 * Prints pid=, one "thread tid=T" line per worker, ready.  Commands:
 * "count" -> usr1=N chld=N rt=N rtdup=N rtbad=N;
 * "missing N" -> missing=K first=S (sequence numbers 0..N-1 not received);
 * "checksum" -> checksum_ok=1|0 rounds=N;  "exit N".  EOF exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "command_line.h"

#define ROUND (1u << 16)
#define MAX_SEQ (1u << 22)
#define MAX_WORKERS 64

static volatile sig_atomic_t usr1, chld;
static unsigned long rt, rtdup, rtbad;
static unsigned char seen[MAX_SEQ / 8];
static uint64_t reference;
static unsigned long rounds, bad_rounds;
static pthread_barrier_t barrier;
static int tids[MAX_WORKERS];

static void counter(int sig)
{
    if (sig == SIGUSR1) usr1++;
    else if (sig == SIGCHLD) chld++;
}

/* Handlers run one at a time per thread but on any thread: atomics. */
static void sequenced(int sig, siginfo_t *info, void *context)
{
    (void)sig; (void)context;
    unsigned seq = (unsigned)info->si_value.sival_int;
    if (info->si_code != SI_QUEUE || seq >= MAX_SEQ) {
        __atomic_add_fetch(&rtbad, 1, __ATOMIC_RELAXED);
        return;
    }
    unsigned char bit = (unsigned char)(1u << (seq & 7));
    unsigned char old = __atomic_fetch_or(&seen[seq >> 3], bit, __ATOMIC_RELAXED);
    if (old & bit) __atomic_add_fetch(&rtdup, 1, __ATOMIC_RELAXED);
    else __atomic_add_fetch(&rt, 1, __ATOMIC_RELAXED);
}

static uint64_t fnv_round(uint64_t seed)
{
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < ROUND; i++) {
        h ^= (i + seed) & 0xff;
        h *= 1099511628211ull;
    }
    return h;
}

static void *worker(void *arg)
{
    tids[(long)arg] = (int)syscall(SYS_gettid);
    pthread_barrier_wait(&barrier);
    for (;;) {
        volatile uint64_t seed = 0; /* opaque: each round is recomputed */
        if (fnv_round(seed) != reference)
            __atomic_add_fetch(&bad_rounds, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&rounds, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void handle(const char *line)
{
    int code;
    unsigned n;
    if (strcmp(line, "count") == 0) {
        printf("usr1=%d chld=%d rt=%lu rtdup=%lu rtbad=%lu\n", (int)usr1, (int)chld,
               __atomic_load_n(&rt, __ATOMIC_RELAXED), __atomic_load_n(&rtdup, __ATOMIC_RELAXED),
               __atomic_load_n(&rtbad, __ATOMIC_RELAXED));
    } else if (sscanf(line, "missing %u", &n) == 1) {
        unsigned missing = 0, first = 0;
        for (unsigned s = 0; s < n && s < MAX_SEQ; s++)
            if (!(__atomic_load_n(&seen[s >> 3], __ATOMIC_RELAXED) & (1u << (s & 7))))
                if (missing++ == 0) first = s;
        printf("missing=%u first=%u\n", missing, first);
    } else if (strcmp(line, "checksum") == 0) {
        printf("checksum_ok=%d rounds=%lu\n",
               __atomic_load_n(&bad_rounds, __ATOMIC_RELAXED) == 0 && fnv_round(0) == reference,
               __atomic_load_n(&rounds, __ATOMIC_RELAXED));
    } else if (sscanf(line, "exit %d", &code) == 1) {
        exit(code);
    } else {
        printf("error\n");
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4;
    if (n < 0 || n > MAX_WORKERS) {
        fprintf(stderr, "usage: storm [0..%d]\n", MAX_WORKERS);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = counter;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_sigaction = sequenced;
    sa.sa_flags = SA_RESTART | SA_SIGINFO;
    sigaction(SIGRTMIN, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    reference = fnv_round(0);
    pthread_barrier_init(&barrier, NULL, (unsigned)n + 1);
    for (long i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, (void *)i) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    pthread_barrier_wait(&barrier);
    printf("pid=%d\n", (int)getpid());
    for (int i = 0; i < n; i++)
        printf("thread tid=%d\n", tids[i]);
    printf("ready\n");
    char line[256];
    for (;;) {
        if (!read_command(line, sizeof line))
            return 0;
        line[strcspn(line, "\n")] = '\0';
        handle(line);
    }
}
