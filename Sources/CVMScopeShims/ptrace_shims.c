// ptrace(), wait-status macros, constants and small system calls for Swift.
// Why C: ptrace() is variadic and the W* helpers are macros.
#include "vmscope_shims.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

long vms_ptrace_seize(pid_t tid, unsigned long options) {
    return ptrace(PTRACE_SEIZE, tid, 0, (void *)options);
}
long vms_ptrace_interrupt(pid_t tid) { return ptrace(PTRACE_INTERRUPT, tid, 0, 0); }
long vms_ptrace_listen(pid_t tid) { return ptrace(PTRACE_LISTEN, tid, 0, 0); }
long vms_ptrace_detach(pid_t tid, int signal) {
    return ptrace(PTRACE_DETACH, tid, 0, (void *)(long)signal);
}
long vms_ptrace_cont(pid_t tid, int signal) {
    return ptrace(PTRACE_CONT, tid, 0, (void *)(long)signal);
}
long vms_ptrace_singlestep(pid_t tid, int signal) {
    return ptrace(PTRACE_SINGLESTEP, tid, 0, (void *)(long)signal);
}
long vms_ptrace_syscall(pid_t tid, int signal) {
    return ptrace(PTRACE_SYSCALL, tid, 0, (void *)(long)signal);
}
long vms_ptrace_setoptions(pid_t tid, unsigned long options) {
    return ptrace(PTRACE_SETOPTIONS, tid, 0, (void *)options);
}
long vms_ptrace_getregs(pid_t tid, struct user_regs_struct *regs) {
    return ptrace(PTRACE_GETREGS, tid, 0, regs);
}
long vms_ptrace_setregs(pid_t tid, const struct user_regs_struct *regs) {
    return ptrace(PTRACE_SETREGS, tid, 0, regs);
}
long vms_ptrace_getfpregs(pid_t tid, struct user_fpregs_struct *regs) {
    return ptrace(PTRACE_GETFPREGS, tid, 0, regs);
}
long vms_ptrace_geteventmsg(pid_t tid, unsigned long *msg) {
    return ptrace(PTRACE_GETEVENTMSG, tid, 0, msg);
}
long vms_ptrace_getsiginfo(pid_t tid, siginfo_t *info) {
    return ptrace(PTRACE_GETSIGINFO, tid, 0, info);
}
long vms_ptrace_peekdata(pid_t tid, uint64_t addr, uint64_t *out) {
    errno = 0;
    long word = ptrace(PTRACE_PEEKDATA, tid, (void *)addr, 0);
    if (word == -1 && errno != 0) return -1;
    *out = (uint64_t)word;
    return 0;
}
long vms_ptrace_peekuser(pid_t tid, uint64_t offset, uint64_t *out) {
    errno = 0;
    long word = ptrace(PTRACE_PEEKUSER, tid, (void *)offset, 0);
    if (word == -1 && errno != 0) return -1;
    *out = (uint64_t)word;
    return 0;
}
long vms_ptrace_pokeuser(pid_t tid, uint64_t offset, uint64_t value) {
    return ptrace(PTRACE_POKEUSER, tid, (void *)offset, (void *)value);
}

const unsigned long VMS_PTRACE_O_TRACESYSGOOD = PTRACE_O_TRACESYSGOOD;
const unsigned long VMS_PTRACE_O_TRACEFORK = PTRACE_O_TRACEFORK;
const unsigned long VMS_PTRACE_O_TRACEVFORK = PTRACE_O_TRACEVFORK;
const unsigned long VMS_PTRACE_O_TRACECLONE = PTRACE_O_TRACECLONE;
const unsigned long VMS_PTRACE_O_TRACEEXEC = PTRACE_O_TRACEEXEC;
const unsigned long VMS_PTRACE_O_TRACEEXIT = PTRACE_O_TRACEEXIT;
const unsigned long VMS_PTRACE_O_TRACEVFORKDONE = PTRACE_O_TRACEVFORKDONE;
const unsigned long VMS_PTRACE_O_EXITKILL = PTRACE_O_EXITKILL;
const int VMS_PTRACE_EVENT_FORK = PTRACE_EVENT_FORK;
const int VMS_PTRACE_EVENT_VFORK = PTRACE_EVENT_VFORK;
const int VMS_PTRACE_EVENT_CLONE = PTRACE_EVENT_CLONE;
const int VMS_PTRACE_EVENT_EXEC = PTRACE_EVENT_EXEC;
const int VMS_PTRACE_EVENT_EXIT = PTRACE_EVENT_EXIT;
const int VMS_PTRACE_EVENT_VFORK_DONE = PTRACE_EVENT_VFORK_DONE;
const int VMS_PTRACE_EVENT_STOP = PTRACE_EVENT_STOP;
const int VMS_WALL = __WALL;
const unsigned long VMS_ADDR_NO_RANDOMIZE = ADDR_NO_RANDOMIZE;
const uint64_t VMS_DEBUGREG_OFFSET = offsetof(struct user, u_debugreg);

int vms_wifexited(int status) { return WIFEXITED(status); }
int vms_wexitstatus(int status) { return WEXITSTATUS(status); }
int vms_wifsignaled(int status) { return WIFSIGNALED(status); }
int vms_wtermsig(int status) { return WTERMSIG(status); }
int vms_wifstopped(int status) { return WIFSTOPPED(status); }
int vms_wstopsig(int status) { return WSTOPSIG(status); }
int vms_wptrace_event(int status) { return (status >> 16) & 0xff; }

ssize_t vms_process_vm_readv(pid_t pid, void *local, size_t length, uint64_t remote) {
    struct iovec l = {.iov_base = local, .iov_len = length};
    struct iovec r = {.iov_base = (void *)remote, .iov_len = length};
    return process_vm_readv(pid, &l, 1, &r, 1, 0);
}
int vms_personality(unsigned long persona) { return personality(persona); }
int vms_tgkill(pid_t tgid, pid_t tid, int sig) { return (int)syscall(SYS_tgkill, tgid, tid, sig); }
int vms_wait_ready(pid_t tid) {
    siginfo_t info;
    info.si_pid = 0;
    if (waitid(P_PID, (id_t)tid, &info, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL) < 0) return -1;
    return info.si_pid != 0;
}
int vms_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
int vms_pidfd_send_signal(int pidfd, int sig) { return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0); }
int vms_gettid(void) { return (int)syscall(SYS_gettid); }

// siginfo_t's fields live in unions that Swift imports awkwardly; this
// hands back the three a stop report needs.
long vms_ptrace_siginfo(pid_t tid, int *signo, int *code, uint64_t *address) {
    siginfo_t info;
    if (ptrace(PTRACE_GETSIGINFO, tid, 0, &info) != 0) return -1;
    *signo = info.si_signo;
    *code = info.si_code;
    *address = (uint64_t)(uintptr_t)info.si_addr;
    return 0;
}

// PTRACE_GET_SYSCALL_INFO (Linux 5.3) says whether a syscall-stop is the
// entry or the exit, so a stop collected after attach or Ctrl-C cannot
// flip the entry/exit parity.
long vms_ptrace_syscall_info(pid_t tid, int *op, uint64_t *number, uint64_t args[6], int64_t *result) {
    struct __ptrace_syscall_info info;
    memset(&info, 0, sizeof info);
    if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof info, &info) < 0) return -1;
    *op = info.op;
    if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
        *number = info.entry.nr;
        for (int i = 0; i < 6; i++) args[i] = info.entry.args[i];
    } else if (info.op == PTRACE_SYSCALL_INFO_EXIT) {
        *result = info.exit.rval;
    }
    return 0;
}

// Peeks at which child has a state change without collecting it
// (waitid WNOWAIT), so the core can leave alone children that are not the
// target's threads (the test suite's own children, say). Returns the pid,
// 0 when `blocking` is 0 and nothing is waiting, -1 with errno on error.
pid_t vms_wait_peek(int blocking) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int flags = WEXITED | WSTOPPED | WNOWAIT | __WALL | (blocking ? 0 : WNOHANG);
    if (waitid(P_ALL, 0, &info, flags) != 0) return -1;
    return info.si_pid;
}
