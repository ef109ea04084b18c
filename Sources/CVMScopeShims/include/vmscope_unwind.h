// The libunwind-ptrace remote unwinder, wrapped for Swift.
//
// Why a shim: libunwind's API is macros (unw_init_remote is
// _Ux86_64_init_remote), Swift 6 rejects the mutable global _UPT_accessors,
// and the speed of a remote unwind is decided by its memory accessor. So
// the walk runs here, in C, with vmscope's own accessor table:
//  - access_mem reads through a per-address-space page cache filled by
//    process_vm_readv of whole pages (libunwind reads .eh_frame_hdr and the
//    stack one word at a time; without the cache each word is a ptrace call);
//  - access_reg serves the registers Swift passes in (one PTRACE_GETREGS
//    instead of one PTRACE_PEEKUSER per register);
//  - everything else forwards to the _UPT_* functions.
// The address space lives across stops with UNW_CACHE_GLOBAL (unwind info
// is parsed once per function); only the page cache is flushed when the
// target runs again.
#ifndef VMSCOPE_UNWIND_H
#define VMSCOPE_UNWIND_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/// One process's unwinding state: libunwind address space, a _UPT handle
/// and the page cache. Opaque to Swift.
typedef struct vms_unw_space vms_unw_space;

/// Why a walk ended.
enum {
    VMS_UNW_STOP_END = 0,          ///< unw_step reached the outermost frame
    VMS_UNW_STOP_MAX_FRAMES = 1,   ///< the caller's frame limit
    VMS_UNW_STOP_CFA_NOT_UP = 2,   ///< the next frame's CFA was not above this one's
    VMS_UNW_STOP_REPEATED = 3,     ///< the same ip and sp again (a loop)
    VMS_UNW_STOP_TIMEOUT = 4,      ///< the time box ran out
    VMS_UNW_STOP_ERROR = 5,        ///< unw_step or unw_init_remote failed (see unw_error)
};

/// Bits of vms_unw_frame.valid: which registers libunwind recovered.
enum {
    VMS_UNW_HAS_RBP = 1, VMS_UNW_HAS_RBX = 2, VMS_UNW_HAS_R12 = 4, VMS_UNW_HAS_R13 = 8,
    VMS_UNW_HAS_R14 = 16, VMS_UNW_HAS_R15 = 32, VMS_UNW_HAS_CFA = 64,
};

typedef struct vms_unw_frame {
    uint64_t ip, sp;
    /// The CFA (the caller's sp after the return), 0 when unknown (last frame).
    uint64_t cfa;
    uint64_t rbp, rbx, r12, r13, r14, r15;
    /// Where this frame's rbp value is kept in memory by its callee, 0 when
    /// it is still in the register (unw_get_save_loc).
    uint64_t rbp_location;
    uint32_t valid;
    /// unw_is_signal_frame: libunwind reached this frame through a signal
    /// frame (its registers come from a sigcontext): it was interrupted.
    int32_t is_signal_frame;
} vms_unw_frame;

/// Creates the state for process `pid`; NULL on failure (errno set).
vms_unw_space *_Nullable vms_unw_space_create(pid_t pid);
void vms_unw_space_destroy(vms_unw_space *_Nonnull space);
/// Forgets cached memory: call whenever the target has run.
void vms_unw_space_flush_memory(vms_unw_space *_Nonnull space);
/// Forgets libunwind's parsed unwind info too (after dlopen/dlclose or exec).
void vms_unw_space_flush_all(vms_unw_space *_Nonnull space);
/// The address ranges of the process's mapped files, as (start, end)
/// pairs (`count` pairs): each gets its own libunwind ELF image, kept for
/// the life of the space. Without them the ranges are read from
/// /proc/PID/maps when a walk first enters a module. Ignored when set already.
void vms_unw_space_set_modules(vms_unw_space *_Nonnull space, const uint64_t *_Nonnull ranges, long count);
/// Memory reads served so far: from the cache, and by process_vm_readv.
void vms_unw_space_stats(vms_unw_space *_Nonnull space, uint64_t *_Nonnull hits, uint64_t *_Nonnull page_reads);

/// Unwinds from the registers `regs` of a stopped thread, writing at most
/// `max_frames` frames. Returns the number written; `stop_reason` says why
/// it ended and `unw_error` holds libunwind's (negative) error code when
/// the reason is VMS_UNW_STOP_ERROR.
long vms_unw_walk(vms_unw_space *_Nonnull space, const struct user_regs_struct *_Nonnull regs,
                  vms_unw_frame *_Nonnull frames, long max_frames, double time_limit_seconds,
                  int *_Nonnull stop_reason, int *_Nonnull unw_error);

/// libunwind's text for an error code.
const char *_Nonnull vms_unw_strerror(int code);

// ---- source lines (libdwfl from elfutils) ----
// Why: file:line needs DWARF .debug_line, which libdw parses (and caches
// per module); vmscope's own ELF reader only does symbols.

/// One process's modules as libdwfl sees them. Opaque to Swift.
typedef struct vms_lines vms_lines;

/// 1 when libdw.so.1 could be loaded (dlopen on the first call), else 0:
/// file:line is then unavailable and vms_lines_create returns NULL.
int vms_lines_available(void);

/// Reports the modules of `pid` (from /proc/PID/maps). With
/// `separate_debug_files` 0 only DWARF inside the mapped files is used
/// (cheap: test programs built with -g); with 1, installed debug files
/// (/usr/lib/debug, found by build ID) too, as libc6-dbg provides.
/// NULL on failure.
vms_lines *_Nullable vms_lines_create(pid_t pid, int separate_debug_files);
void vms_lines_destroy(vms_lines *_Nonnull lines);
/// The source file and line of `address`: returns 1 and fills `file`
/// (NUL-terminated, truncated to `file_size`), `line` and `column`; 0 when
/// there is no line information.
int vms_lines_lookup(vms_lines *_Nonnull lines, uint64_t address, char *_Nonnull file, size_t file_size,
                     int *_Nonnull line, int *_Nonnull column);

// The lowest code address of FILE:LINE in any module (FILE may be a path
// suffix such as "recurse.c"): 1 and *address set, 0 when no line entry
// matches.
int vms_lines_address(vms_lines *_Nonnull lines, const char *_Nonnull file, int line, uint64_t *_Nonnull address);

#endif
