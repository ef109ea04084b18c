// Thin C shims for what Swift cannot call directly: the variadic ptrace(),
// the wait-status macros, PTRACE_* constants, personality(), a traced
// fork+exec, and the async-signal-safe emergency detach that must run from
// a signal handler. Nothing else belongs in C.
#ifndef VMSCOPE_SHIMS_H
#define VMSCOPE_SHIMS_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>
#include <signal.h>

// ---- ptrace requests (each returns -1 and sets errno on failure) ----
long vms_ptrace_seize(pid_t tid, unsigned long options);
long vms_ptrace_interrupt(pid_t tid);
long vms_ptrace_listen(pid_t tid);
long vms_ptrace_detach(pid_t tid, int signal);
long vms_ptrace_cont(pid_t tid, int signal);
long vms_ptrace_singlestep(pid_t tid, int signal);
long vms_ptrace_syscall(pid_t tid, int signal);
long vms_ptrace_setoptions(pid_t tid, unsigned long options);
long vms_ptrace_getregs(pid_t tid, struct user_regs_struct *_Nonnull regs);
long vms_ptrace_setregs(pid_t tid, const struct user_regs_struct *_Nonnull regs);
long vms_ptrace_getfpregs(pid_t tid, struct user_fpregs_struct *_Nonnull regs);
long vms_ptrace_geteventmsg(pid_t tid, unsigned long *_Nonnull msg);
long vms_ptrace_getsiginfo(pid_t tid, siginfo_t *_Nonnull info);
/// The signal number, si_code and si_addr of a thread's signal stop.
long vms_ptrace_siginfo(pid_t tid, int *_Nonnull signo, int *_Nonnull code, uint64_t *_Nonnull address);
/// PTRACE_GET_SYSCALL_INFO: op 1 entry (number, args), 2 exit (result).
long vms_ptrace_syscall_info(pid_t tid, int *_Nonnull op, uint64_t *_Nonnull number,
                             uint64_t *_Nonnull args, int64_t *_Nonnull result);
/// Reads one word. PEEK returns data in-band, so the result goes through
/// `out` and the return value is 0 or -1 (errno set).
long vms_ptrace_peekdata(pid_t tid, uint64_t addr, uint64_t *_Nonnull out);
long vms_ptrace_peekuser(pid_t tid, uint64_t offset, uint64_t *_Nonnull out);
long vms_ptrace_pokeuser(pid_t tid, uint64_t offset, uint64_t value);

// ---- constants Swift's Glibc module does not export ----
extern const unsigned long VMS_PTRACE_O_TRACESYSGOOD;
extern const unsigned long VMS_PTRACE_O_TRACEFORK;
extern const unsigned long VMS_PTRACE_O_TRACEVFORK;
extern const unsigned long VMS_PTRACE_O_TRACECLONE;
extern const unsigned long VMS_PTRACE_O_TRACEEXEC;
extern const unsigned long VMS_PTRACE_O_TRACEEXIT;
extern const unsigned long VMS_PTRACE_O_TRACEVFORKDONE;
extern const unsigned long VMS_PTRACE_O_EXITKILL;
extern const int VMS_PTRACE_EVENT_FORK;
extern const int VMS_PTRACE_EVENT_VFORK;
extern const int VMS_PTRACE_EVENT_CLONE;
extern const int VMS_PTRACE_EVENT_EXEC;
extern const int VMS_PTRACE_EVENT_EXIT;
extern const int VMS_PTRACE_EVENT_VFORK_DONE;
extern const int VMS_PTRACE_EVENT_STOP;
extern const int VMS_WALL;
extern const unsigned long VMS_ADDR_NO_RANDOMIZE;
extern const uint64_t VMS_DEBUGREG_OFFSET; // offsetof(struct user, u_debugreg)

// ---- wait status decoding (the W* macros) ----
int vms_wifexited(int status);
int vms_wexitstatus(int status);
int vms_wifsignaled(int status);
int vms_wtermsig(int status);
int vms_wifstopped(int status);
int vms_wstopsig(int status);
/// The PTRACE_EVENT_* in bits 16..23 of a stop status (0 for none).
int vms_wptrace_event(int status);
/// Which child has a state change, without collecting it (waitid WNOWAIT
/// over all children). 0 if none and not blocking; -1 with errno on error.
pid_t vms_wait_peek(int blocking);
// 1 if a SIGTRAP made by the kernel (an int3, a finished step) waits in
// thread `tid`'s own queue: it hit it just as a PTRACE_INTERRUPT came, whose
// stop was reported first (PTRACE_PEEKSIGINFO; the thread must be stopped).
int vms_sigtrap_queued(pid_t tid);

// ---- other system calls ----
ssize_t vms_process_vm_readv(pid_t pid, void *_Nonnull local, size_t length, uint64_t remote);
/// personality(0xffffffff) queries without changing.
int vms_personality(unsigned long persona);
int vms_tgkill(pid_t tgid, pid_t tid, int sig);
/// Whether `tid` has a stop or an end to collect, without collecting it
/// (waitid with WNOHANG | WNOWAIT | __WALL): 1 yes, 0 not yet, -1 errno set.
int vms_wait_ready(pid_t tid);
int vms_pidfd_open(pid_t pid);
/// Signals the process a pidfd names (ESRCH once it has ended, never another process).
int vms_pidfd_send_signal(int pidfd, int sig);
int vms_gettid(void);

/// fork + exec with the child seized (PTRACE_SEIZE with `options`) before it
/// calls execve, so the first stop is the exec event at the new program's
/// first instruction. The child gets an empty signal mask, default signal
/// dispositions and, if asked, ADDR_NO_RANDOMIZE. Returns the pid, or -1
/// with errno set (an execve failure in the child is reported as its errno).
pid_t vms_spawn_seized(const char *_Nonnull path, char *_Nullable const *_Nonnull argv,
                       char *_Nullable const *_Nonnull envp, int disable_aslr,
                       unsigned long options);

// ---- emergency detach: a mirror of the live tracing state ----
// The Swift core keeps this mirror up to date so that a signal handler can
// let every thread go with async-signal-safe calls only.
void vms_emergency_set_target(pid_t pid, int kill_on_exit);
void vms_emergency_clear(void);
void vms_emergency_add_thread(pid_t tid);
void vms_emergency_remove_thread(pid_t tid);
/// The signal a stopped thread is holding (dequeued from the kernel by a
/// signal-delivery-stop); it is handed back at detach. 0 for none.
void vms_emergency_set_pending(pid_t tid, int signal);
/// The open /proc/PID/mem through which breakpoint bytes are restored.
void vms_emergency_set_memfd(int fd);
/// A breakpoint byte in memory (int3) and the byte it replaced. Returns -1
/// when the mirror is full: the byte must then not be written.
int vms_emergency_add_breakpoint(uint64_t address, uint8_t original);
/// Forgets every byte (after exec the old memory is gone).
void vms_emergency_clear_breakpoints(void);
void vms_emergency_remove_breakpoint(uint64_t address);
/// Set while the target runs (continue/step): SIGINT then interrupts every
/// traced thread with PTRACE_INTERRUPT from the handler itself, so no
/// Ctrl-C is lost between a flag check and a blocking wait.
void vms_emergency_set_running(int running);
/// Lets every traced thread go: stops running ones, restores breakpoint
/// bytes, rewinds a thread that has just executed an int3, hands back held
/// signals, detaches (or kills a launched target). Async-signal-safe.
void vms_emergency_detach(void);
/// Installs handlers: SIGTERM, SIGHUP and the fatal signals (SIGILL, SIGSEGV,
/// SIGBUS, SIGABRT, SIGFPE, SIGTRAP) detach and then die of the same signal.
/// SIGINT does the same when `sigint_exits` is set, else it only sets the
/// flag read by vms_take_interrupt().
void vms_install_signal_handlers(int sigint_exits);
void vms_set_sigint_exits(int sigint_exits);
/// Returns and clears the "SIGINT arrived" flag.
int vms_take_interrupt(void);

#endif
