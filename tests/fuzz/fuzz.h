/* SPDX-License-Identifier: MIT */
/* The two functions a libFuzzer target defines (libFuzzer declares them nowhere). */
#ifndef PYTRACE_FUZZ_H
#define PYTRACE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
