/* bigheap: holds one large, fully touched heap block, for bulk-read
 * benchmarks.  Usage: bigheap [MiB]  (default 256).
 * The block is malloc'd (glibc serves it from mmap, >= 128 KiB) and every
 * byte is written with (offset * 31 + 7) & 0xff, so every page is present
 * and a reader can check any byte it got.  Prints pid=, heap=0x.. (start of
 * the block), size= (bytes), ready; then parks in pause(). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile int parked = 1;

int main(int argc, char **argv)
{
    long mib = argc > 1 ? atol(argv[1]) : 256;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (mib < 1 || mib > 65536) {
        fprintf(stderr, "usage: bigheap [MiB 1..65536]\n");
        return 2;
    }
    size_t size = (size_t)mib << 20;
    unsigned char *block = malloc(size);
    if (!block) {
        perror("malloc");
        return 1;
    }
    for (size_t i = 0; i < size; i++)
        block[i] = (unsigned char)((i * 31 + 7) & 0xff);
    printf("pid=%d\n", (int)getpid());
    printf("heap=0x%lx\n", (unsigned long)block);
    printf("size=%zu\n", size);
    printf("ready\n");
    while (parked)
        pause();
    free(block);
    return 0;
}
