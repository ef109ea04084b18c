/* sighandler: parks inside a signal handler, so that a backtrace must cross
 * the kernel's signal frame (__restore_rt) back into the interrupted code.
 * Usage: sighandler.  main -> interrupted() raises SIGUSR1 -> on_signal ->
 * in_handler, which prints handler_fp= (its frame base), interrupted=,
 * pid=, ready, then parks in pause(). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static volatile int parked = 1;

__attribute__((noinline)) static void in_handler(void)
{
    printf("handler_fp=0x%lx\n", (unsigned long)__builtin_frame_address(0));
    printf("pid=%d\n", (int)getpid());
    printf("ready\n");
    while (parked)
        pause();
}

static void on_signal(int sig)
{
    (void)sig;
    in_handler();
}

__attribute__((noinline)) void interrupted(void)
{
    printf("interrupted=0x%lx\n", (unsigned long)(uintptr_t)&interrupted);
    raise(SIGUSR1);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGUSR1, &sa, NULL);
    interrupted();
    return 0;
}
