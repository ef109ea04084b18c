/* recurse: builds a deep, real call stack for stack-unwinding tests.
 * Usage: recurse [N]   (N = depth, default 10; depth 1 = outermost call)
 * Each level prints "frame depth=D fp=0x.. local=0x.." (only when N <= 2000
 * or env RECURSE_PRINT=1); the innermost level also prints
 * "innermost fp=.. local=..", main=, recurse=, string=, sbrk0=, pid=, ready,
 * then parks in pause() (SIGUSR1/SIGUSR2 have no-op handlers, so they do not
 * end it either).  Built as recurse (-O0, frame pointers), recurse-O2
 * (-O2 -fomit-frame-pointer -DOMIT_FP) and recurse-nopie.
 * With OMIT_FP, fp is computed as CFA-16 (what %rbp would hold in a standard
 * frame) because __builtin_frame_address(0) would force a frame pointer. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <unistd.h>

#ifdef OMIT_FP
#define FRAME_ADDR() ((char *)__builtin_dwarf_cfa() - 16)
#else
#define FRAME_ADDR() ((char *)__builtin_frame_address(0))
#endif

int main(int argc, char **argv);

static char test_string[] = "vmscope-test-string";
static int max_depth;
static volatile int parked = 1; /* opaque loop condition: the park loop
                                   can end, so no -Winfinite-recursion */
static int print_frames;
static unsigned long sbrk0;

static void ignore_signal(int sig) { (void)sig; }

__attribute__((noipa)) int recurse(int depth)
{
    volatile int local = depth;
    if (print_frames)
        printf("frame depth=%d fp=0x%lx local=0x%lx\n", depth,
               (unsigned long)FRAME_ADDR(), (unsigned long)&local);
    if (depth < max_depth) {
        int r = recurse(depth + 1);
        local += r; /* use the result after the call: no tail call */
        return local;
    }
    printf("innermost fp=0x%lx local=0x%lx\n", (unsigned long)FRAME_ADDR(),
           (unsigned long)&local);
    printf("main=0x%lx\n", (unsigned long)(uintptr_t)&main);
    printf("recurse=0x%lx\n", (unsigned long)(uintptr_t)&recurse);
    printf("string=0x%lx\n", (unsigned long)test_string);
    printf("sbrk0=0x%lx\n", sbrk0);
    printf("pid=%d\n", (int)getpid());
    printf("ready\n");
    while (parked)
        pause();
    return local;
}

int main(int argc, char **argv)
{
    sbrk0 = (unsigned long)sbrk(0);
    struct sigaction sa = {.sa_handler = ignore_signal, .sa_flags = SA_RESTART};
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    max_depth = argc > 1 ? atoi(argv[1]) : 10;
    if (max_depth < 1) {
        fprintf(stderr, "usage: recurse [depth>=1]\n");
        return 2;
    }
    const char *env = getenv("RECURSE_PRINT");
    print_frames = max_depth <= 2000 || (env && env[0] == '1');
    return recurse(1) == 0;
}
