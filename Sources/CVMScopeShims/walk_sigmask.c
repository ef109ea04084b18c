// Why vmscope defines sigprocmask(): Debian's libunwind 1.6 guards its
// unwind-info cache with a lock that first blocks every signal, so each
// frame of a remote walk costs two sigprocmask system calls (20,040 for a
// 10,005-frame stack: a third of the walk, and the target is stopped all
// that time). The per-thread cache that avoids the lock is not compiled
// into that build. The executable's definition takes the place of libc's
// for every library that calls sigprocmask (libunwind, readline); outside
// a walk it does exactly what libc's does. During vms_unw_walk, on the
// walking thread only, it changes nothing and returns the current mask
// unread: libunwind restores what it got back, so the mask is never
// changed, and no signal handler of vmscope calls into libunwind (the
// emergency detach uses only async-signal-safe system calls), so the lock
// needs no protection from them.
#include <errno.h>
#include <pthread.h>
#include <signal.h>

static __thread int walking;

void vms_walk_sigmask_begin(void);
void vms_walk_sigmask_end(void);

void vms_walk_sigmask_begin(void) { walking = 1; }
void vms_walk_sigmask_end(void) { walking = 0; }

int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
    if (walking) {
        if (old) sigemptyset(old);
        return 0;
    }
    int result = pthread_sigmask(how, set, old);
    if (result != 0) {
        errno = result;
        return -1;
    }
    return 0;
}
