// Capstone (Debian libcapstone-dev): the disassembler behind `disas` and
// `nexti`'s "is this a call?". A system-library target, so no C of ours.
#include <capstone/capstone.h>
