// Launching a traced child. Why C: between fork and execve the child of a
// multi-threaded process may only make async-signal-safe calls.
#include "vmscope_shims.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void child_after_fork(int go_fd, int err_fd, const char *path, char *const *argv,
                             char *const *envp, int disable_aslr) {
    // A test runner's worker thread blocks most signals and a shell may
    // ignore some: the launched program starts with a clean slate. The raw
    // system call, because glibc's sigaction() refuses the two real-time
    // signals it reserves (32, 33), so an ignored one would reach the program.
    struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } dfl = {0};
    for (int sig = 1; sig <= 64; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, &dfl, 0, sizeof dfl.mask);
    }
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, 0);
    // Wait until the parent has seized us, so that execve stops at its event.
    char byte;
    while (read(go_fd, &byte, 1) < 0 && errno == EINTR) {}
    if (disable_aslr) {
        int current = personality(0xffffffff);
        if (current != -1) personality((unsigned long)current | ADDR_NO_RANDOMIZE);
    }
    execve(path, argv, envp);
    int err = errno;
    (void)!write(err_fd, &err, sizeof err);
    _exit(127);
}

static void reap(pid_t pid) {
    int status;
    while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {}
}

pid_t vms_spawn_seized(const char *path, char *const *argv, char *const *envp,
                       int disable_aslr, unsigned long options) {
    int go[2], err[2];
    if (pipe2(go, O_CLOEXEC) < 0) return -1;
    if (pipe2(err, O_CLOEXEC) < 0) {
        int saved = errno;
        close(go[0]);
        close(go[1]);
        errno = saved;
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(go[0]); close(go[1]); close(err[0]); close(err[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        close(go[1]);
        close(err[0]);
        child_after_fork(go[0], err[1], path, argv, envp, disable_aslr);
    }
    close(go[0]);
    close(err[1]);
    if (ptrace(PTRACE_SEIZE, pid, 0, (void *)options) < 0) {
        int saved = errno;
        kill(pid, SIGKILL);
        reap(pid);
        close(go[1]);
        close(err[0]);
        errno = saved;
        return -1;
    }
    (void)!write(go[1], "g", 1);
    close(go[1]);
    int child_errno = 0;
    ssize_t got;
    while ((got = read(err[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {}
    close(err[0]);
    if (got == (ssize_t)sizeof child_errno) {  // execve failed in the child
        reap(pid);
        errno = child_errno;
        return -1;
    }
    for (;;) {  // run to the exec event: the new program's first instruction
        int status;
        if (waitpid(pid, &status, __WALL) < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            errno = ECHILD;
            return -1;
        }
        int event = (status >> 16) & 0xff;
        if (event == PTRACE_EVENT_EXEC) return pid;
        int sig = (event == 0) ? WSTOPSIG(status) : 0;  // hand real signals on
        ptrace(PTRACE_CONT, pid, 0, (void *)(long)sig);
    }
}
