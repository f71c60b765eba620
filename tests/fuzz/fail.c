/* fuzz_fail() for every build of the fuzz targets: says which invariant
 * broke and aborts, which libFuzzer and the replayer both report. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

void fuzz_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "fuzz: invariant failed at %s:%d: %s\n", file, line, what);
	abort();
}
