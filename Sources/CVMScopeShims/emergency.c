// The emergency detach. Why C: it runs inside signal handlers (SIGTERM,
// SIGHUP, SIGINT in batch mode, and the fatal signals a Swift trap raises),
// where only async-signal-safe calls are allowed. The Swift core mirrors its
// tracing state here; the mirror is written so that a handler arriving in
// the middle of an update sees a usable list (a slot is filled before the
// count grows; a removed slot is refilled before the count shrinks).
#include "vmscope_shims.h"

#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define VMS_MAX_THREADS 8192

static volatile pid_t em_pid;
static volatile int em_kill;
static volatile int em_count;
static volatile pid_t em_tids[VMS_MAX_THREADS];
static volatile int em_pending[VMS_MAX_THREADS];
static volatile sig_atomic_t em_interrupted;
static volatile int em_running;
static volatile int em_memfd = -1;
#define VMS_MAX_BREAKPOINTS 4096
static volatile int em_bp_count;
static volatile uint64_t em_bp_address[VMS_MAX_BREAKPOINTS];
static volatile uint8_t em_bp_original[VMS_MAX_BREAKPOINTS];
static volatile int em_sigint_exits;

void vms_emergency_set_target(pid_t pid, int kill_on_exit) {
    em_count = 0;
    em_kill = kill_on_exit;
    em_pid = pid;
}

void vms_emergency_clear(void) {
    em_pid = 0;
    em_count = 0;
    em_bp_count = 0;
    em_running = 0;
    em_memfd = -1;
}

void vms_emergency_set_memfd(int fd) { em_memfd = fd; }
void vms_emergency_clear_breakpoints(void) { em_bp_count = 0; }
void vms_emergency_set_running(int running) { em_running = running; }

static int bp_slot(uint64_t address) {
    for (int i = 0; i < em_bp_count; i++) {
        if (em_bp_address[i] == address) return i;
    }
    return -1;
}

int vms_emergency_add_breakpoint(uint64_t address, uint8_t original) {
    if (bp_slot(address) >= 0) return 0;
    if (em_bp_count >= VMS_MAX_BREAKPOINTS) return -1;
    em_bp_address[em_bp_count] = address;
    em_bp_original[em_bp_count] = original;
    em_bp_count = em_bp_count + 1;
    return 0;
}

void vms_emergency_remove_breakpoint(uint64_t address) {
    int i = bp_slot(address);
    if (i < 0) return;
    int last = em_bp_count - 1;
    em_bp_address[i] = em_bp_address[last];
    em_bp_original[i] = em_bp_original[last];
    em_bp_count = last;
}

static int slot_of(pid_t tid) {
    for (int i = 0; i < em_count; i++) {
        if (em_tids[i] == tid) return i;
    }
    return -1;
}

void vms_emergency_add_thread(pid_t tid) {
    if (slot_of(tid) >= 0 || em_count >= VMS_MAX_THREADS) return;
    em_tids[em_count] = tid;
    em_pending[em_count] = 0;
    em_count = em_count + 1;
}

void vms_emergency_remove_thread(pid_t tid) {
    int i = slot_of(tid);
    if (i < 0) return;
    int last = em_count - 1;
    em_tids[i] = em_tids[last];
    em_pending[i] = em_pending[last];
    em_count = last;
}

void vms_emergency_set_pending(pid_t tid, int signal) {
    int i = slot_of(tid);
    if (i >= 0) em_pending[i] = signal;
}

static int is_group_stop_signal(int sig) {
    return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

// A thread that stopped with SIGTRAP right after one of our int3 bytes is
// put back on the breakpoint's address, so it executes the restored
// instruction. Returns 1 if it did.
static int rewind_after_breakpoint(pid_t tid) {
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0) return 0;
    if (bp_slot(regs.rip - 1) < 0) return 0;
    regs.rip -= 1;
    return ptrace(PTRACE_SETREGS, tid, 0, &regs) == 0;
}

// Every running thread is stopped first so that no thread executes code
// while its bytes are being restored.
static void stop_running_threads(void) {
    if (!em_running) return;
    for (int i = 0; i < em_count; i++) ptrace(PTRACE_INTERRUPT, em_tids[i], 0, 0);
}

// The list of addresses is kept until every thread is detached: a thread
// caught just after one of them must still be recognised and rewound.
static void restore_breakpoint_bytes(void) {
    if (em_memfd < 0) return;
    for (int i = 0; i < em_bp_count; i++) {
        uint8_t byte = em_bp_original[i];
        (void)!pwrite(em_memfd, &byte, 1, (off_t)em_bp_address[i]);
    }
}

// For a thread in a SIGTRAP signal-delivery-stop: what to hand back at
// detach. Our own traps are dropped (an int3 of ours, after rewinding rip
// onto its address; a single step), since delivering them would kill the
// target; a SIGTRAP somebody sent, or the program's own int3, is handed
// back. Returns -1 if the thread is not in a SIGTRAP stop at all.
static int sigtrap_to_hand_back(pid_t tid) {
    siginfo_t info;
    if (ptrace(PTRACE_GETSIGINFO, tid, 0, &info) < 0 || info.si_signo != SIGTRAP) return -1;
    if (info.si_code == SI_KERNEL) return rewind_after_breakpoint(tid) ? 0 : SIGTRAP;
    if (info.si_code > 0 && info.si_code < 0x100) return 0;  // TRAP_TRACE, TRAP_BRKPT...: a step
    if (info.si_code >= 0x100) return -1;  // an event stop: (event << 8) | SIGTRAP
    return SIGTRAP;  // SI_USER, SI_TKILL, SI_QUEUE
}

// A thread interrupted just after a trap of ours (a step finishing, an int3
// hit) may take the PTRACE_INTERRUPT stop before the trap's SIGTRAP, which
// then waits in its queue: detached like that, it would die of it. Returns
// 1 if a kernel-made SIGTRAP is queued for the thread.
static int kernel_sigtrap_queued(pid_t tid) {
    struct __ptrace_peeksiginfo_args args = {.off = 0, .flags = 0, .nr = 8};
    siginfo_t queued[8];
    long n = ptrace(PTRACE_PEEKSIGINFO, tid, &args, queued);
    for (long i = 0; i < n; i++) {
        if (queued[i].si_signo == SIGTRAP && queued[i].si_code > 0) return 1;
    }
    return 0;
}

int vms_sigtrap_queued(pid_t tid) { return kernel_sigtrap_queued(tid); }

static void detach_from_stop(pid_t tid, int status, int pending);

// Lets the thread take that queued SIGTRAP while still traced: resumed
// without a signal it dequeues it at once (synchronous signals first) and
// stops again, in a stop detach_from_stop knows how to handle.
static int drain_queued_trap(pid_t tid, int pending) {
    if (!kernel_sigtrap_queued(tid)) return 0;
    if (ptrace(PTRACE_CONT, tid, 0, 0) < 0) return 0;
    int status;
    for (;;) {
        if (waitpid(tid, &status, __WALL) < 0) {
            if (errno == EINTR) continue;
            return 1;  // gone
        }
        if (WIFSTOPPED(status)) detach_from_stop(tid, status, pending);
        return 1;
    }
}

// Detaches a thread from the stop described by `status`, handing back the
// signal that stop took from the kernel (a breakpoint's SIGTRAP excepted).
static void detach_from_stop(pid_t tid, int status, int pending) {
    int event = (status >> 16) & 0xff;
    int sig = WSTOPSIG(status);
    if (event == PTRACE_EVENT_STOP && sig == SIGTRAP && drain_queued_trap(tid, pending)) return;
    // A signal-delivery-stop dequeued a signal: hand it back. An event stop
    // holds no signal; a group-stop stays a group-stop by itself.
    int hand_back = pending;
    if (event == 0 && sig != (SIGTRAP | 0x80) && !is_group_stop_signal(sig)) hand_back = sig;
    if (event == 0 && sig == SIGTRAP) {
        int trap = sigtrap_to_hand_back(tid);
        hand_back = trap > 0 ? trap : pending;
    }
    ptrace(PTRACE_DETACH, tid, 0, (void *)(long)hand_back);
}

// Detach one thread whatever its state: a stop not yet collected is
// collected first (detaching from it blindly would drop its signal); a
// thread in a ptrace-stop detaches at once; a running one is interrupted
// and its stop collected.
static void detach_thread(pid_t tid, int pending) {
    int status;
    pid_t got;
    while ((got = waitpid(tid, &status, __WALL | WNOHANG)) < 0 && errno == EINTR) {}
    if (got == tid) {
        if (WIFSTOPPED(status)) detach_from_stop(tid, status, pending);
        return;  // stopped and detached, or it died
    }
    // A stop already collected by the Swift side but not yet handled may be
    // the raw SIGTRAP of an int3 of ours (rip one byte past it) or of a step.
    if (pending == 0 || pending == SIGTRAP) {
        int trap = sigtrap_to_hand_back(tid);
        if (trap >= 0 && pending == SIGTRAP) pending = trap;
    }
    if (ptrace(PTRACE_DETACH, tid, 0, (void *)(long)pending) == 0) return;
    if (errno != ESRCH) return;
    ptrace(PTRACE_INTERRUPT, tid, 0, 0);
    for (;;) {
        if (waitpid(tid, &status, __WALL) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (WIFSTOPPED(status)) detach_from_stop(tid, status, pending);
        return;
    }
}

void vms_emergency_detach(void) {
    pid_t pid = em_pid;
    if (pid == 0) return;
    em_pid = 0;
    int saved_errno = errno;
    if (em_kill) {
        kill(pid, SIGKILL);
        int status;
        while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {}
    } else {
        stop_running_threads();
        restore_breakpoint_bytes();
        for (int i = em_count - 1; i >= 0; i--) detach_thread(em_tids[i], em_pending[i]);
        em_bp_count = 0;
    }
    em_count = 0;
    errno = saved_errno;
}

static void die_after_detach(int sig) {
    vms_emergency_detach();
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, 0);
    raise(sig);
}

static void on_sigint(int sig) {
    // In batch mode Ctrl-C ends vmscope, except while the target runs: then,
    // as in `gdb -batch`, it interrupts the target and the script goes on.
    if (em_sigint_exits && !em_running) {
        die_after_detach(sig);
        return;
    }
    em_interrupted = 1;
    // Ctrl-C while the target runs: stop it now, from here, so the waiting
    // code cannot miss it.
    if (em_running) {
        int saved = errno;
        for (int i = 0; i < em_count; i++) ptrace(PTRACE_INTERRUPT, em_tids[i], 0, 0);
        errno = saved;
    }
}

// The handlers run on their own stack: a stack overflow in vmscope (the
// guard page hit, SIGSEGV) leaves no room on the main stack to run one.
static char em_alt_stack[64 * 1024];

void vms_install_signal_handlers(int sigint_exits) {
    em_sigint_exits = sigint_exits;
    stack_t alt = {.ss_sp = em_alt_stack, .ss_size = sizeof em_alt_stack, .ss_flags = 0};
    sigaltstack(&alt, 0);
    struct sigaction sa = {0};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_ONSTACK;
    sa.sa_handler = die_after_detach;
    const int fatal[] = {SIGTERM, SIGHUP, SIGQUIT, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGTRAP};
    for (unsigned i = 0; i < sizeof fatal / sizeof fatal[0]; i++) sigaction(fatal[i], &sa, 0);
    // No SA_RESTART: a blocking wait for the target must see EINTR.
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, 0);
    // A closed output pipe must become an error, not a silent death that
    // skips the detach.
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, 0);
}

void vms_set_sigint_exits(int sigint_exits) { em_sigint_exits = sigint_exits; }

int vms_take_interrupt(void) {
    int was = em_interrupted;
    em_interrupted = 0;
    return was;
}
