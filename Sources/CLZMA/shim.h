// liblzma decompresses MiniDebugInfo: the xz-compressed .symtab that
// Debian ships in .gnu_debugdata (it names libc's static functions).
#include <lzma.h>
