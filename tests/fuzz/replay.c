/*
 * main() for the gcc builds of the fuzz targets: replays input files (or
 * every file in a directory) through LLVMFuzzerTestOneInput, under ASan and
 * UBSan, so corpora and crash reproducers run without clang.  The libFuzzer
 * builds get main() and fuzz_fail() from libFuzzer and fail.c.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_MAX (16u << 20)

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(REPLAY_MAX);
	size_t n;

	if (f == NULL || buf == NULL) {
		perror(path);
		if (f)
			fclose(f);
		free(buf);
		return 1;
	}
	n = fread(buf, 1, REPLAY_MAX, f);
	fclose(f);
	/* A copy of exactly n bytes, so ASan sees reads past the input. */
	uint8_t *in = malloc(n ? n : 1);
	if (in == NULL)
		abort();
	memcpy(in, buf, n);
	free(buf);
	LLVMFuzzerTestOneInput(in, n);
	free(in);
	printf("%s: ok\n", path);
	return 0;
}

static int replay(const char *path)
{
	struct stat st;
	struct dirent **names;
	int n, bad = 0;

	if (stat(path, &st) < 0) {
		perror(path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path);
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		perror(path);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		char sub[4096];
		if (names[i]->d_name[0] != '.') {
			snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
			bad |= replay(sub);
		}
		free(names[i]);
	}
	free(names);
	return bad;
}

int main(int argc, char **argv)
{
	int bad = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s INPUT|DIR...  (replays fuzz inputs)\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		bad |= replay(argv[i]);
	return bad;
}
