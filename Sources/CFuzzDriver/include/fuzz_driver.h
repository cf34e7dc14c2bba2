#ifndef DREAM_FUZZ_DRIVER_H
#define DREAM_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/* libFuzzer's driver when the program was linked with it (scripts/fuzz builds with -sanitize=fuzzer and
 * keeps LLVMFuzzerRunDriver); otherwise -1 and nothing runs, and dream-fuzz replays files instead. */
int dream_fuzz_run_driver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
