// The remote unwinder: libunwind-ptrace with vmscope's own memory and
// register accessors (see vmscope_unwind.h for why each exists).
#include "vmscope_unwind.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <stddef.h>
#include <libunwind-ptrace.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#define PAGE_SIZE_BYTES 4096u
// 1024 direct-mapped 4 KiB slots (4 MiB, touched lazily): a 10,000-frame
// stack is ~120 pages, the unwind tables it needs a few dozen more.
#define CACHE_SLOTS 1024u

struct cache_slot {
    uint64_t page;
    uint32_t generation;  // valid only when equal to the space's generation
};

// One _UPT handle per module. Why: a _UPT handle keeps the ELF image of
// one module mapped (its unwind table), and libunwind asks for procedure
// info again whenever a walk moves to another module: with one handle for
// the process, each move re-read /proc/PID/maps and re-mapped the file
// (libc -> program -> libc for every thread: ~40 us each time).
#define MAX_MODULES 256  // large programs map a few hundred files; past this, one shared handle as before

struct module_handle {
    uint64_t start, end;  // the lowest and highest address of the file's mappings
    void *upt;
};

struct vms_unw_space {
    pid_t pid;
    int mem_fd;  // /proc/PID/mem, or -1
    unw_addr_space_t as;
    void *upt;  // for unw_init_remote, and for code outside any file (vdso, JIT)
    struct module_handle modules[MAX_MODULES];
    int module_count;
    struct user_regs_struct regs;  // the registers of the thread being walked
    uint32_t generation;
    struct cache_slot slots[CACHE_SLOTS];
    uint8_t *data;  // CACHE_SLOTS pages
    uint64_t hits, page_reads;
};

// libunwind hands accessors the address space and the `arg` given to
// unw_init_remote, which _UPT_* functions also pass on: a small table from
// address space to vmscope's state lets access_mem find its cache whatever
// `arg` is. Only the tracer thread unwinds, so no lock.
#define MAX_SPACES 16
static struct vms_unw_space *spaces[MAX_SPACES];

static struct vms_unw_space *space_of(unw_addr_space_t as) {
    for (int i = 0; i < MAX_SPACES; i++)
        if (spaces[i] && spaces[i]->as == as) return spaces[i];
    return NULL;
}

// Pages come from /proc/PID/mem: process_vm_readv would block for ever on
// a userfaultfd-registered page no one serves (a hostile or half-migrated
// process), where /proc/PID/mem answers EIO at once. The page cache keeps
// the read count small (~130 pages for a 10,000-frame walk), so the cost of
// pread over process_vm_readv does not show.
static int read_page(struct vms_unw_space *s, uint64_t page, uint8_t *into) {
    if (s->mem_fd >= 0) {
        ssize_t got;
        if (page > (uint64_t)INT64_MAX) return -1;
        do {
            got = pread(s->mem_fd, into, PAGE_SIZE_BYTES, (off_t)page);
        } while (got < 0 && errno == EINTR);
        s->page_reads++;
        return got == (ssize_t)PAGE_SIZE_BYTES ? 0 : -1;
    }
    struct iovec local = {into, PAGE_SIZE_BYTES};
    struct iovec remote = {(void *)(uintptr_t)page, PAGE_SIZE_BYTES};
    ssize_t n;
    do {
        n = process_vm_readv(s->pid, &local, 1, &remote, 1, 0);
    } while (n < 0 && errno == EINTR);
    s->page_reads++;
    return n == (ssize_t)PAGE_SIZE_BYTES ? 0 : -1;
}

// Copies `len` bytes at `addr` from the cache, filling missing pages.
static int cached_read(struct vms_unw_space *s, uint64_t addr, void *out, size_t len) {
    if (!s->data) {
        s->data = malloc((size_t)CACHE_SLOTS * PAGE_SIZE_BYTES);
        if (!s->data) return -1;
    }
    uint8_t *dst = out;
    while (len > 0) {
        uint64_t page = addr & ~(uint64_t)(PAGE_SIZE_BYTES - 1);
        uint32_t index = (uint32_t)((page / PAGE_SIZE_BYTES) % CACHE_SLOTS);
        struct cache_slot *slot = &s->slots[index];
        uint8_t *bytes = s->data + (size_t)index * PAGE_SIZE_BYTES;
        if (slot->generation == s->generation && slot->page == page) {
            s->hits++;
        } else {
            if (read_page(s, page, bytes) != 0) {
                slot->generation = s->generation - 1;
                return -1;
            }
            slot->page = page;
            slot->generation = s->generation;
        }
        size_t offset = (size_t)(addr - page);
        size_t chunk = PAGE_SIZE_BYTES - offset < len ? PAGE_SIZE_BYTES - offset : len;
        memcpy(dst, bytes + offset, chunk);
        dst += chunk;
        addr += chunk;
        len -= chunk;
    }
    return 0;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg) {
    struct vms_unw_space *s = space_of(as);
    if (!s) return -UNW_EINVAL;
    if (write) {
        s->generation++;  // never happens while unwinding; stay correct anyway
        return _UPT_access_mem(as, addr, val, write, s->upt);
    }
    if (cached_read(s, addr, val, sizeof *val) == 0) return 0;
    // Pages process_vm_readv refuses (no read permission) may still be
    // readable with PTRACE_PEEKDATA.
    (void)arg;
    return _UPT_access_mem(as, addr, val, 0, s->upt);
}

// libunwind's x86-64 register numbers are DWARF's order, not user_regs_struct's.
static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg) {
    (void)arg;
    struct vms_unw_space *s = space_of(as);
    if (!s) return -UNW_EINVAL;
    if (write) return -UNW_EREADONLYREG;
    const struct user_regs_struct *r = &s->regs;
    switch (reg) {
    case UNW_X86_64_RAX: *val = r->rax; break;
    case UNW_X86_64_RDX: *val = r->rdx; break;
    case UNW_X86_64_RCX: *val = r->rcx; break;
    case UNW_X86_64_RBX: *val = r->rbx; break;
    case UNW_X86_64_RSI: *val = r->rsi; break;
    case UNW_X86_64_RDI: *val = r->rdi; break;
    case UNW_X86_64_RBP: *val = r->rbp; break;
    case UNW_X86_64_RSP: *val = r->rsp; break;
    case UNW_X86_64_R8: *val = r->r8; break;
    case UNW_X86_64_R9: *val = r->r9; break;
    case UNW_X86_64_R10: *val = r->r10; break;
    case UNW_X86_64_R11: *val = r->r11; break;
    case UNW_X86_64_R12: *val = r->r12; break;
    case UNW_X86_64_R13: *val = r->r13; break;
    case UNW_X86_64_R14: *val = r->r14; break;
    case UNW_X86_64_R15: *val = r->r15; break;
    case UNW_X86_64_RIP: *val = r->rip; break;
    default: return -UNW_EBADREG;
    }
    return 0;
}

// The file-backed mappings of the file that maps `ip`, from /proc/PID/maps:
// 1 with [*start, *end) covering all of them, 0 when no file maps `ip`.
static int module_range(pid_t pid, uint64_t ip, uint64_t *start, uint64_t *end) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *maps = fopen(path, "re");
    if (!maps) return 0;
    struct { uint64_t lo, hi, inode; unsigned dev_major, dev_minor; } rows[512];
    int count = 0, hit = -1;
    char line[512];
    while (count < 512 && fgets(line, sizeof line, maps)) {
        unsigned long long lo, hi, offset, inode;
        unsigned major, minor;
        char perms[8];
        if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &lo, &hi, perms, &offset, &major, &minor, &inode) != 7) continue;
        if (inode == 0) continue;
        rows[count].lo = lo; rows[count].hi = hi; rows[count].inode = inode;
        rows[count].dev_major = major; rows[count].dev_minor = minor;
        if (ip >= lo && ip < hi) hit = count;
        count++;
    }
    fclose(maps);
    if (hit < 0) return 0;
    *start = rows[hit].lo;
    *end = rows[hit].hi;
    for (int i = 0; i < count; i++) {
        if (rows[i].inode != rows[hit].inode || rows[i].dev_major != rows[hit].dev_major ||
            rows[i].dev_minor != rows[hit].dev_minor) continue;
        if (rows[i].lo < *start) *start = rows[i].lo;
        if (rows[i].hi > *end) *end = rows[i].hi;
    }
    return 1;
}

void vms_unw_space_set_modules(vms_unw_space *s, const uint64_t *ranges, long count) {
    if (s->module_count > 0) return;  // known already; flush_all forgets them when the code changes
    for (long i = 0; i < count && s->module_count < MAX_MODULES; i++) {
        if (ranges[2 * i] >= ranges[2 * i + 1]) continue;
        s->modules[s->module_count++] = (struct module_handle){ .start = ranges[2 * i], .end = ranges[2 * i + 1], .upt = NULL };
    }
}

// The _UPT handle of the module holding `ip`, made on first use.
static void *module_upt(struct vms_unw_space *s, uint64_t ip) {
    for (int i = 0; i < s->module_count; i++) {
        if (ip < s->modules[i].start || ip >= s->modules[i].end) continue;
        if (!s->modules[i].upt) s->modules[i].upt = _UPT_create(s->pid);
        return s->modules[i].upt ? s->modules[i].upt : s->upt;
    }
    uint64_t start, end;
    if (s->module_count >= MAX_MODULES || !module_range(s->pid, ip, &start, &end)) return s->upt;
    void *upt = _UPT_create(s->pid);
    if (!upt) return s->upt;
    s->modules[s->module_count++] = (struct module_handle){ .start = start, .end = end, .upt = upt };
    return upt;
}

static void forget_modules(struct vms_unw_space *s) {
    for (int i = 0; i < s->module_count; i++)
        if (s->modules[i].upt) _UPT_destroy(s->modules[i].upt);
    s->module_count = 0;
}

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need_unwind_info, void *arg) {
    struct vms_unw_space *s = space_of(as);
    return _UPT_find_proc_info(as, ip, pi, need_unwind_info, s ? module_upt(s, ip) : arg);
}

static unw_accessors_t accessors = {
    .find_proc_info = find_proc_info,
    .put_unwind_info = _UPT_put_unwind_info,
    .get_dyn_info_list_addr = _UPT_get_dyn_info_list_addr,
    .access_mem = access_mem,
    .access_reg = access_reg,
    .access_fpreg = _UPT_access_fpreg,
    .resume = _UPT_resume,
    .get_proc_name = _UPT_get_proc_name,
};

vms_unw_space *vms_unw_space_create(pid_t pid) {
    int free_index = -1;
    for (int i = 0; i < MAX_SPACES; i++)
        if (!spaces[i]) { free_index = i; break; }
    if (free_index < 0) { errno = EMFILE; return NULL; }
    struct vms_unw_space *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->pid = pid;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
    s->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
    s->generation = 1;
    s->as = unw_create_addr_space(&accessors, 0);
    // One _UPT handle per process: it only uses the pid for /proc/PID/maps
    // and for the accessors vmscope replaces; registers come from `regs`.
    s->upt = _UPT_create(pid);
    if (!s->as || !s->upt) {
        if (s->as) unw_destroy_addr_space(s->as);
        if (s->upt) _UPT_destroy(s->upt);
        if (s->mem_fd >= 0) close(s->mem_fd);
        free(s);
        errno = ENOMEM;
        return NULL;
    }
    unw_set_caching_policy(s->as, UNW_CACHE_GLOBAL);
    spaces[free_index] = s;
    return s;
}

void vms_unw_space_destroy(vms_unw_space *s) {
    for (int i = 0; i < MAX_SPACES; i++)
        if (spaces[i] == s) spaces[i] = NULL;
    unw_destroy_addr_space(s->as);
    forget_modules(s);
    _UPT_destroy(s->upt);
    free(s->data);
    if (s->mem_fd >= 0) close(s->mem_fd);
    free(s);
}

void vms_unw_space_flush_memory(vms_unw_space *s) {
    s->generation++;
    if (s->generation == 0) {  // wrapped: old slots could look valid again
        memset(s->slots, 0, sizeof s->slots);
        s->generation = 1;
    }
}

void vms_unw_space_flush_all(vms_unw_space *s) {
    vms_unw_space_flush_memory(s);
    unw_flush_cache(s->as, 0, 0);
    // The _UPT handles keep their module's ELF image mapped: after an
    // exec or dlclose it could describe code that is gone.
    forget_modules(s);
    void *fresh = _UPT_create(s->pid);
    if (fresh) {
        _UPT_destroy(s->upt);
        s->upt = fresh;
    }
}

void vms_unw_space_stats(vms_unw_space *s, uint64_t *hits, uint64_t *page_reads) {
    *hits = s->hits;
    *page_reads = s->page_reads;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void read_frame(unw_cursor_t *c, vms_unw_frame *f) {
    unw_word_t v = 0;
    memset(f, 0, sizeof *f);
    if (unw_get_reg(c, UNW_REG_IP, &v) == 0) f->ip = v;
    if (unw_get_reg(c, UNW_REG_SP, &v) == 0) f->sp = v;
    static const struct { int reg; uint32_t bit; size_t offset; } regs[] = {
        {UNW_X86_64_RBP, VMS_UNW_HAS_RBP, offsetof(vms_unw_frame, rbp)},
        {UNW_X86_64_RBX, VMS_UNW_HAS_RBX, offsetof(vms_unw_frame, rbx)},
        {UNW_X86_64_R12, VMS_UNW_HAS_R12, offsetof(vms_unw_frame, r12)},
        {UNW_X86_64_R13, VMS_UNW_HAS_R13, offsetof(vms_unw_frame, r13)},
        {UNW_X86_64_R14, VMS_UNW_HAS_R14, offsetof(vms_unw_frame, r14)},
        {UNW_X86_64_R15, VMS_UNW_HAS_R15, offsetof(vms_unw_frame, r15)},
    };
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        if (unw_get_reg(c, regs[i].reg, &v) == 0) {
            memcpy((char *)f + regs[i].offset, &v, sizeof v);
            f->valid |= regs[i].bit;
        }
    }
    unw_save_loc_t loc;
    if (unw_get_save_loc(c, UNW_X86_64_RBP, &loc) == 0 && loc.type == UNW_SLT_MEMORY)
        f->rbp_location = loc.u.addr;
    f->is_signal_frame = unw_is_signal_frame(c) > 0;
}

// walk_sigmask.c: libunwind's per-frame sigprocmask calls cost no system call inside a walk.
void vms_walk_sigmask_begin(void);
void vms_walk_sigmask_end(void);

static long walk(vms_unw_space *s, const struct user_regs_struct *regs, vms_unw_frame *frames,
                 long max_frames, double time_limit_seconds, int *stop_reason, int *unw_error);

long vms_unw_walk(vms_unw_space *s, const struct user_regs_struct *regs, vms_unw_frame *frames,
                  long max_frames, double time_limit_seconds, int *stop_reason, int *unw_error) {
    vms_walk_sigmask_begin();
    long n = walk(s, regs, frames, max_frames, time_limit_seconds, stop_reason, unw_error);
    vms_walk_sigmask_end();
    return n;
}

static long walk(vms_unw_space *s, const struct user_regs_struct *regs, vms_unw_frame *frames,
                 long max_frames, double time_limit_seconds, int *stop_reason, int *unw_error) {
    *stop_reason = VMS_UNW_STOP_END;
    *unw_error = 0;
    if (max_frames <= 0) { *stop_reason = VMS_UNW_STOP_MAX_FRAMES; return 0; }
    s->regs = *regs;
    unw_cursor_t cursor;
    int r = unw_init_remote(&cursor, s->as, s->upt);
    if (r < 0) { *stop_reason = VMS_UNW_STOP_ERROR; *unw_error = r; return 0; }
    double deadline = now_seconds() + time_limit_seconds;
    long n = 0;
    for (;;) {
        vms_unw_frame *f = &frames[n];
        read_frame(&cursor, f);
        n++;
        int last = n >= max_frames;
        if (!last && (n & 255) == 0 && now_seconds() > deadline) { *stop_reason = VMS_UNW_STOP_TIMEOUT; break; }
        r = unw_step(&cursor);
        if (last) {
            // One step past the limit still gives the last frame its CFA.
            unw_word_t next_sp = 0;
            if (r > 0 && unw_get_reg(&cursor, UNW_REG_SP, &next_sp) == 0 && next_sp > f->sp) {
                f->cfa = next_sp;
                f->valid |= VMS_UNW_HAS_CFA;
            }
            *stop_reason = r == 0 ? VMS_UNW_STOP_END : VMS_UNW_STOP_MAX_FRAMES;
            break;
        }
        if (r == 0) { *stop_reason = VMS_UNW_STOP_END; break; }
        if (r < 0) { *stop_reason = VMS_UNW_STOP_ERROR; *unw_error = r; break; }
        unw_word_t ip = 0, sp = 0;
        unw_get_reg(&cursor, UNW_REG_IP, &ip);
        unw_get_reg(&cursor, UNW_REG_SP, &sp);
        // The caller's sp after the return is this frame's CFA.
        f->cfa = sp;
        f->valid |= VMS_UNW_HAS_CFA;
        if (ip == f->ip && sp == f->sp) { *stop_reason = VMS_UNW_STOP_REPEATED; break; }
        // A stack grows down: a caller's frame is above its callee's. A
        // step through a signal frame may hop to another stack (sigaltstack).
        if (sp <= f->sp && unw_is_signal_frame(&cursor) <= 0) { *stop_reason = VMS_UNW_STOP_CFA_NOT_UP; break; }
        if (ip == 0) { *stop_reason = VMS_UNW_STOP_END; break; }
    }
    return n;
}

const char *vms_unw_strerror(int code) {
    return unw_strerror(code);
}
