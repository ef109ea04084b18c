/* The command loop the test programs share: one line of standard input at
 * a time. A signal (the tests send some, and attaching interrupts a
 * blocked read with EINTR) must not end the program, so the read is
 * retried; end of input means "exit 0". */
#ifndef COMMAND_LINE_H
#define COMMAND_LINE_H
#include <errno.h>
#include <stdio.h>

static int read_command(char *line, int size)
{
    for (;;) {
        if (fgets(line, size, stdin))
            return 1;
        if (!(ferror(stdin) && errno == EINTR))
            return 0;
        clearerr(stdin);
    }
}
#endif
