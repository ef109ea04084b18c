/* signals: counts delivered signals, to check that a debugger attaching,
 * stopping and detaching neither loses nor invents signals, and (busy mode)
 * does not corrupt the registers of a running computation.
 * Usage: signals [busy].  Prints pid=, ready.  Commands (one reply line each):
 * "count" -> usr1=N usr2=N chld=N cont=N;  "checksum" -> checksum_ok=1|0
 * (busy mode: every completed round of the FNV loop matched the reference);
 * "rounds" -> rounds=N;  "exit N".  EOF exits 0. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROUND (1u << 20)

static volatile sig_atomic_t usr1, usr2, chld, cont;
static char buf[4096];
static size_t used;
static uint64_t reference, rounds, bad_rounds;

static void handler(int sig)
{
    if (sig == SIGUSR1) usr1++;
    else if (sig == SIGUSR2) usr2++;
    else if (sig == SIGCHLD) chld++;
    else if (sig == SIGCONT) cont++;
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

/* Reads once from stdin (retrying EINTR); returns 0 on EOF. */
static int fill(void)
{
    for (;;) {
        if (used == sizeof buf - 1)
            used = 0; /* overlong garbage line: drop it */
        ssize_t n = read(0, buf + used, sizeof buf - 1 - used);
        if (n > 0) {
            used += (size_t)n;
            return 1;
        }
        if (n == 0)
            return 0;
        if (errno != EINTR)
            return 0;
    }
}

static void handle(const char *line)
{
    int code;
    if (strcmp(line, "count") == 0)
        printf("usr1=%d usr2=%d chld=%d cont=%d\n", (int)usr1, (int)usr2,
               (int)chld, (int)cont);
    else if (strcmp(line, "checksum") == 0)
        printf("checksum_ok=%d\n", bad_rounds == 0 && fnv_round(0) == reference);
    else if (strcmp(line, "rounds") == 0)
        printf("rounds=%llu\n", (unsigned long long)rounds);
    else if (sscanf(line, "exit %d", &code) == 1)
        exit(code);
    else
        printf("error\n");
}

/* Handles every complete line in buf. */
static void drain(void)
{
    char *nl;
    while ((nl = memchr(buf, '\n', used)) != NULL) {
        *nl = '\0';
        handle(buf);
        used -= (size_t)(nl + 1 - buf);
        memmove(buf, nl + 1, used);
    }
}

int main(int argc, char **argv)
{
    int busy = argc > 1 && strcmp(argv[1], "busy") == 0;
    int sigs[] = {SIGUSR1, SIGUSR2, SIGCHLD, SIGCONT};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    reference = fnv_round(0);
    printf("pid=%d\nready\n", (int)getpid());
    for (;;) {
        if (busy) {
            /* The seed is 0 but opaque to the compiler, so every round is
             * really recomputed in registers. */
            volatile uint64_t seed = 0;
            if (fnv_round(seed) != reference)
                bad_rounds++;
            rounds++;
            struct pollfd p = {.fd = 0, .events = POLLIN};
            if (poll(&p, 1, 0) <= 0)
                continue; /* nothing to read, or EINTR */
        }
        if (!fill())
            return 0;
        drain();
    }
}
