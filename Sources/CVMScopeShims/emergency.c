// The emergency detach. Why C: it runs inside signal handlers (SIGTERM,
// SIGHUP, SIGINT in batch mode, and the fatal signals a Swift trap raises),
// where only async-signal-safe calls are allowed. The Swift core mirrors its
// tracing state here; the mirror is written so that a handler arriving in
// the middle of an update sees a usable list (a slot is filled before the
// count grows; a removed slot is refilled before the count shrinks).
#include "vmscope_shims.h"

#include <errno.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#define VMS_MAX_THREADS 8192

static volatile pid_t em_pid;
static volatile int em_kill;
static volatile int em_count;
static volatile pid_t em_tids[VMS_MAX_THREADS];
static volatile int em_pending[VMS_MAX_THREADS];
static volatile sig_atomic_t em_interrupted;
static volatile int em_sigint_exits;

void vms_emergency_set_target(pid_t pid, int kill_on_exit) {
    em_count = 0;
    em_kill = kill_on_exit;
    em_pid = pid;
}

void vms_emergency_clear(void) {
    em_pid = 0;
    em_count = 0;
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

// Detach one thread whatever its state: in a ptrace-stop it detaches at
// once; running, it is interrupted first and its stop collected.
static void detach_thread(pid_t tid, int pending) {
    if (ptrace(PTRACE_DETACH, tid, 0, (void *)(long)pending) == 0) return;
    if (errno != ESRCH) return;
    if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) return;  // gone
    for (;;) {
        int status;
        if (waitpid(tid, &status, __WALL) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (!WIFSTOPPED(status)) return;  // it died meanwhile
        int event = (status >> 16) & 0xff;
        int sig = WSTOPSIG(status);
        // A signal-delivery-stop dequeued a signal: hand it back. An event
        // stop holds no signal; a group-stop stays a group-stop by itself.
        int hand_back = pending;
        if (event == 0 && sig != (SIGTRAP | 0x80) && !is_group_stop_signal(sig)) hand_back = sig;
        ptrace(PTRACE_DETACH, tid, 0, (void *)(long)hand_back);
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
        for (int i = em_count - 1; i >= 0; i--) detach_thread(em_tids[i], em_pending[i]);
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
    if (em_sigint_exits) {
        die_after_detach(sig);
        return;
    }
    em_interrupted = 1;
}

void vms_install_signal_handlers(int sigint_exits) {
    em_sigint_exits = sigint_exits;
    struct sigaction sa = {0};
    sigemptyset(&sa.sa_mask);
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
