// File:line for addresses of a live process, through libdwfl (see
// vmscope_unwind.h). One Dwfl per process and mode, kept across lookups:
// libdw parses each module's line table once.
//
// libdw.so.1 (with libelf, libz, libbz2) is opened with dlopen on the first
// vms_lines_create, not linked: commands without file:line (maps, x, echo)
// then start without loading and relocating it. The header still gives the
// types; every function is reached through the table below.
#include "vmscope_unwind.h"

#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static struct {
    __typeof__(dwfl_begin) *begin;
    __typeof__(dwfl_end) *end;
    __typeof__(dwfl_report_begin) *report_begin;
    __typeof__(dwfl_linux_proc_report) *linux_proc_report;
    __typeof__(dwfl_report_end) *report_end;
    __typeof__(dwfl_addrmodule) *addrmodule;
    __typeof__(dwfl_module_getsrc) *module_getsrc;
    __typeof__(dwfl_lineinfo) *lineinfo;
    __typeof__(dwfl_module_getsrc_file) *module_getsrc_file;
    __typeof__(dwfl_getmodules) *getmodules;
    __typeof__(dwfl_linux_proc_find_elf) *linux_proc_find_elf;
    __typeof__(dwfl_standard_find_debuginfo) *standard_find_debuginfo;
} dw;
static int dw_loaded;
static pthread_once_t dw_once = PTHREAD_ONCE_INIT;

static Dwfl_Callbacks with_debug_files;
static Dwfl_Callbacks own_dwarf_only;

static int no_separate_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                                 const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
                                 char **debuginfo_file_name);
static char *debuginfo_path = NULL;  // NULL: libdwfl's default (.debug, /usr/lib/debug)

static void load_libdw(void) {
    void *lib = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return;
#define VMS_DW(field, name) if (!(*(void **)&dw.field = dlsym(lib, #name))) return
    VMS_DW(begin, dwfl_begin);
    VMS_DW(end, dwfl_end);
    VMS_DW(report_begin, dwfl_report_begin);
    VMS_DW(linux_proc_report, dwfl_linux_proc_report);
    VMS_DW(report_end, dwfl_report_end);
    VMS_DW(addrmodule, dwfl_addrmodule);
    VMS_DW(module_getsrc, dwfl_module_getsrc);
    VMS_DW(lineinfo, dwfl_lineinfo);
    VMS_DW(module_getsrc_file, dwfl_module_getsrc_file);
    VMS_DW(getmodules, dwfl_getmodules);
    VMS_DW(linux_proc_find_elf, dwfl_linux_proc_find_elf);
    VMS_DW(standard_find_debuginfo, dwfl_standard_find_debuginfo);
#undef VMS_DW
    with_debug_files = (Dwfl_Callbacks){
        .find_elf = dw.linux_proc_find_elf, .find_debuginfo = dw.standard_find_debuginfo, .debuginfo_path = &debuginfo_path,
    };
    own_dwarf_only = (Dwfl_Callbacks){
        .find_elf = dw.linux_proc_find_elf, .find_debuginfo = no_separate_debuginfo, .debuginfo_path = &debuginfo_path,
    };
    dw_loaded = 1;
}

int vms_lines_available(void) {
    pthread_once(&dw_once, load_libdw);
    return dw_loaded;
}

struct vms_lines {
    Dwfl *dwfl;
};

// Without separate debug files: only the DWARF inside the main file counts.
static int no_separate_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                                 const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
                                 char **debuginfo_file_name) {
    (void)mod; (void)userdata; (void)modname; (void)base; (void)file_name;
    (void)debuglink_file; (void)debuglink_crc; (void)debuginfo_file_name;
    return -1;
}

vms_lines *vms_lines_create(pid_t pid, int separate_debug_files) {
    if (!vms_lines_available()) return NULL;
    Dwfl *dwfl = dw.begin(separate_debug_files ? &with_debug_files : &own_dwarf_only);
    if (!dwfl) return NULL;
    dw.report_begin(dwfl);
    if (dw.linux_proc_report(dwfl, pid) != 0 || dw.report_end(dwfl, NULL, NULL) != 0) {
        dw.end(dwfl);
        return NULL;
    }
    struct vms_lines *lines = calloc(1, sizeof *lines);
    if (!lines) { dw.end(dwfl); return NULL; }
    lines->dwfl = dwfl;
    return lines;
}

void vms_lines_destroy(vms_lines *lines) {
    dw.end(lines->dwfl);
    free(lines);
}

int vms_lines_lookup(vms_lines *lines, uint64_t address, char *file, size_t file_size, int *line, int *column) {
    *line = 0;
    *column = 0;
    if (file_size > 0) file[0] = 0;
    Dwfl_Module *module = dw.addrmodule(lines->dwfl, address);
    if (!module) return 0;
    Dwfl_Line *info = dw.module_getsrc(module, address);
    if (!info) return 0;
    int lineno = 0, col = 0;
    const char *source = dw.lineinfo(info, NULL, &lineno, &col, NULL, NULL);
    if (!source || lineno <= 0) return 0;
    if (file_size > 0) {
        strncpy(file, source, file_size - 1);
        file[file_size - 1] = 0;
    }
    *line = lineno;
    *column = col;
    return 1;
}

struct address_search {
    const char *file;
    int line;
    int found;
    uint64_t lowest;
};

static int search_module(Dwfl_Module *module, void **userdata, const char *name, Dwarf_Addr start, void *arg) {
    (void)userdata; (void)name; (void)start;
    struct address_search *search = arg;
    Dwfl_Line **found = NULL;
    size_t count = 0;
    if (dw.module_getsrc_file(module, search->file, search->line, 0, &found, &count) != 0) return DWARF_CB_OK;
    for (size_t i = 0; i < count; i++) {
        Dwarf_Addr address = 0;
        if (!dw.lineinfo(found[i], &address, NULL, NULL, NULL, NULL)) continue;
        if (!search->found || address < search->lowest) search->lowest = address;
        search->found = 1;
    }
    free(found);
    return DWARF_CB_OK;
}

int vms_lines_address(vms_lines *lines, const char *file, int line, uint64_t *address) {
    struct address_search search = { .file = file, .line = line, .found = 0, .lowest = 0 };
    dw.getmodules(lines->dwfl, search_module, &search, 0);
    if (search.found) *address = search.lowest;
    return search.found;
}
