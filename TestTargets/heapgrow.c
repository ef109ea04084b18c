/* heapgrow: grows the heap (brk) and maps libraries on command, so tests can
 * watch the memory map of a live process change.
 * Prints pid=, sbrk0= (break before any allocation), ready; then answers one
 * line per stdin command: "sbrk N", "malloc N", "dlopen NAME", "brk",
 * "exit N".  EOF exits 0; unknown commands print "error". */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "command_line.h"

int main(void)
{
    unsigned long sbrk0 = (unsigned long)sbrk(0); /* before stdio allocates */
    char line[4096], arg[4096];
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("pid=%d\nsbrk0=0x%lx\nready\n", (int)getpid(), sbrk0);
    for (;;) {
        if (!read_command(line, sizeof line))
            return 0;
        long n;
        if (sscanf(line, "sbrk %ld", &n) == 1) {
            if (sbrk(n) == (void *)-1)
                printf("error\n");
            else
                printf("brk=0x%lx\n", (unsigned long)sbrk(0));
        } else if (sscanf(line, "malloc %ld", &n) == 1) {
            void *p = n >= 0 ? malloc((size_t)n) : NULL; /* kept forever */
            if (!p) {
                printf("error\n");
                continue;
            }
            memset(p, 0xa5, (size_t)n);
            printf("ptr=0x%lx brk=0x%lx\n", (unsigned long)p,
                   (unsigned long)sbrk(0));
        } else if (sscanf(line, "dlopen %4095s", arg) == 1) {
            void *h = dlopen(arg, RTLD_NOW);
            struct link_map *lm = NULL;
            if (h && dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm)
                printf("dlopen=ok base=0x%lx\n", (unsigned long)lm->l_addr);
            else
                printf("dlopen=fail\n");
        } else if (strcmp(line, "brk\n") == 0 || strcmp(line, "brk") == 0) {
            printf("brk=0x%lx\n", (unsigned long)sbrk(0));
        } else if (sscanf(line, "exit %ld", &n) == 1) {
            exit((int)n);
        } else {
            printf("error\n");
        }
    }
}
