// File:line for addresses of a live process, through libdwfl (see
// vmscope_unwind.h). One Dwfl per process and mode, kept across lookups:
// libdw parses each module's line table once.
#include "vmscope_unwind.h"

#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <string.h>

struct vms_lines {
    Dwfl *dwfl;
};

static char *debuginfo_path = NULL;  // NULL: libdwfl's default (.debug, /usr/lib/debug)

// Without separate debug files: only the DWARF inside the main file counts.
static int no_separate_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                                 const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
                                 char **debuginfo_file_name) {
    (void)mod; (void)userdata; (void)modname; (void)base; (void)file_name;
    (void)debuglink_file; (void)debuglink_crc; (void)debuginfo_file_name;
    return -1;
}

static const Dwfl_Callbacks with_debug_files = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

static const Dwfl_Callbacks own_dwarf_only = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = no_separate_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

vms_lines *vms_lines_create(pid_t pid, int separate_debug_files) {
    Dwfl *dwfl = dwfl_begin(separate_debug_files ? &with_debug_files : &own_dwarf_only);
    if (!dwfl) return NULL;
    dwfl_report_begin(dwfl);
    if (dwfl_linux_proc_report(dwfl, pid) != 0 || dwfl_report_end(dwfl, NULL, NULL) != 0) {
        dwfl_end(dwfl);
        return NULL;
    }
    struct vms_lines *lines = calloc(1, sizeof *lines);
    if (!lines) { dwfl_end(dwfl); return NULL; }
    lines->dwfl = dwfl;
    return lines;
}

void vms_lines_destroy(vms_lines *lines) {
    dwfl_end(lines->dwfl);
    free(lines);
}

int vms_lines_lookup(vms_lines *lines, uint64_t address, char *file, size_t file_size, int *line, int *column) {
    *line = 0;
    *column = 0;
    if (file_size > 0) file[0] = 0;
    Dwfl_Module *module = dwfl_addrmodule(lines->dwfl, address);
    if (!module) return 0;
    Dwfl_Line *info = dwfl_module_getsrc(module, address);
    if (!info) return 0;
    int lineno = 0, col = 0;
    const char *source = dwfl_lineinfo(info, NULL, &lineno, &col, NULL, NULL);
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
    if (dwfl_module_getsrc_file(module, search->file, search->line, 0, &found, &count) != 0) return DWARF_CB_OK;
    for (size_t i = 0; i < count; i++) {
        Dwarf_Addr address = 0;
        if (!dwfl_lineinfo(found[i], &address, NULL, NULL, NULL, NULL)) continue;
        if (!search->found || address < search->lowest) search->lowest = address;
        search->found = 1;
    }
    free(found);
    return DWARF_CB_OK;
}

int vms_lines_address(vms_lines *lines, const char *file, int line, uint64_t *address) {
    struct address_search search = { .file = file, .line = line, .found = 0, .lowest = 0 };
    dwfl_getmodules(lines->dwfl, search_module, &search, 0);
    if (search.found) *address = search.lowest;
    return search.found;
}
