// GNU readline's headers need <stdio.h> first.
#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>
