/* hostile: a process that shows a debugger everything it must survive.
 * Usage: hostile DIR   (DIR: an empty directory for the files it maps)
 * - its name (/proc/PID/comm) holds ESC, BEL and a newline;
 * - it maps files whose names hold ESC sequences, BEL, a newline, spaces,
 *   one that looks like " (deleted)" and one of 250 characters;
 * - pages no one may read: PROT_NONE (none=), a guard page between two
 *   read-write pages (guard=, rw= is the page below it), and an anonymous
 *   page registered with userfaultfd for missing faults that no one
 *   serves (uffd=; uffd_mode=all|user|none says how it was registered);
 * - a thread (loop_tid=) parked in assembly without unwind info whose
 *   saved %rbp points at itself: a frame-pointer chain that never ends;
 * - a thread (uffd_tid=) parked in assembly without unwind info with %rbp
 *   inside the userfaultfd page: following it must not block.
 * Prints those facts, ready, then waits on stdin ("exit N"; EOF exits 0). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "command_line.h"

/* No .cfi directives: there is no unwind info for this code.  The saved
 * %rbp slot holds its own address, so a frame-pointer walk loops here. */
void noinfo_park(void);
__asm__(".text\n"
        ".globl noinfo_park\n"
        ".type noinfo_park,@function\n"
        "noinfo_park:\n"
        "    push %rbp\n"
        "    mov %rsp, %rbp\n"
        "    mov %rbp, (%rbp)\n"
        "1:  mov $34, %eax\n" /* SYS_pause */
        "    syscall\n"
        "    jmp 1b\n"
        ".size noinfo_park, .-noinfo_park\n");

/* Parks with %rbp = frame (no prologue, no unwind info). */
void noinfo_park_at(void *frame);
__asm__(".text\n"
        ".globl noinfo_park_at\n"
        ".type noinfo_park_at,@function\n"
        "noinfo_park_at:\n"
        "    mov %rdi, %rbp\n"
        "1:  mov $34, %eax\n"
        "    syscall\n"
        "    jmp 1b\n"
        ".size noinfo_park_at, .-noinfo_park_at\n");

static volatile int loop_tid, uffd_tid;
static char *uffd_page;

static void *uffd_parker(void *arg)
{
    uffd_tid = (int)syscall(SYS_gettid);
    noinfo_park_at(uffd_page + 64);
    return arg;
}

static void *looper(void *arg)
{
    loop_tid = (int)syscall(SYS_gettid);
    noinfo_park();
    return arg;
}

static unsigned long map_named(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror(path); exit(1); }
    char page[4096];
    memset(page, 'A', sizeof page);
    if (write(fd, page, sizeof page) != (ssize_t)sizeof page) exit(1);
    void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) exit(1);
    return (unsigned long)p;
}

static const char *register_uffd(void *page)
{
    static const int flags[] = {O_CLOEXEC | O_NONBLOCK, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY};
    static const char *modes[] = {"all", "user"};
    for (int i = 0; i < 2; i++) {
        int fd = (int)syscall(SYS_userfaultfd, flags[i]);
        if (fd < 0) continue;
        struct uffdio_api api = {.api = UFFD_API};
        struct uffdio_register reg = {.range = {.start = (unsigned long)page, .len = 4096},
                                      .mode = UFFDIO_REGISTER_MODE_MISSING};
        if (ioctl(fd, UFFDIO_API, &api) == 0 && ioctl(fd, UFFDIO_REGISTER, &reg) == 0)
            return modes[i]; /* the descriptor stays open: the page stays registered */
        close(fd);
    }
    return "none";
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: hostile DIR\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char longname[251];
    memset(longname, 'L', 250);
    longname[250] = '\0';
    unsigned long esc = map_named(argv[1], "esc\x1b]0;pwned\x07\x1b[2J name");
    unsigned long newline = map_named(argv[1], "new\nline file");
    unsigned long deleted = map_named(argv[1], "fake (deleted)");
    unsigned long longmap = map_named(argv[1], longname);

    char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *three = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *uffd = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (none == MAP_FAILED || three == MAP_FAILED || uffd == MAP_FAILED) return 1;
    memset(three, 0x5a, 3 * 4096);
    mprotect(three + 4096, 4096, PROT_NONE);
    const char *mode = register_uffd(uffd);
    uffd_page = uffd;

    pthread_t t;
    if (pthread_create(&t, NULL, looper, NULL) != 0) return 1;
    pthread_t u;
    if (pthread_create(&u, NULL, uffd_parker, NULL) != 0) return 1;
    while (loop_tid == 0 || uffd_tid == 0) usleep(1000);
    usleep(10000); /* let it reach pause() */
    prctl(PR_SET_NAME, "\x1b[31m\a\nevil", 0, 0, 0);

    printf("pid=%d\n", (int)getpid());
    printf("esc=0x%lx newline=0x%lx deleted=0x%lx long=0x%lx\n", esc, newline, deleted, longmap);
    printf("none=0x%lx rw=0x%lx guard=0x%lx\n", (unsigned long)none, (unsigned long)three,
           (unsigned long)(three + 4096));
    printf("uffd=0x%lx uffd_mode=%s\n", (unsigned long)uffd, mode);
    printf("loop_tid=%d uffd_tid=%d\n", loop_tid, uffd_tid);
    printf("ready\n");
    char line[256];
    for (;;) {
        if (!read_command(line, sizeof line))
            return 0;
        int code;
        if (sscanf(line, "exit %d", &code) == 1) exit(code);
        printf("error\n");
    }
}
