/*
 * Times one fixed task every half second in this thread's CPU time and prints
 * "seconds milliseconds", to see how steady the host is with nothing else running.
 *   mem: the same cache-missing task as tornbench's probe (src/stats/probe.rs), 8 MiB, 4 passes
 *   alu: the same number of steps on registers only
 * Build: gcc -O2 -o idle_probe idle_probe.c    Run: ./idle_probe mem 120 > mem.txt
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WORDS (1u << 20)
#define PASSES 4
#define STRIDE 7919u

/* Keeps the task's result alive, so the compiler cannot drop the loop. */
static volatile uint64_t sink;

static double
clock_secs(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
	int			memory;
	double		secs;
	double		start;
	uint64_t   *words;

	if (argc != 3 || (strcmp(argv[1], "mem") != 0 && strcmp(argv[1], "alu") != 0))
	{
		fprintf(stderr, "usage: %s mem|alu SECONDS\n", argv[0]);
		return 2;
	}
	memory = strcmp(argv[1], "mem") == 0;
	secs = atof(argv[2]);
	words = malloc(sizeof(uint64_t) * WORDS);
	for (uint64_t i = 0; i < WORDS; i++)
		words[i] = i * 2654435761u;
	start = clock_secs(CLOCK_MONOTONIC);
	while (clock_secs(CLOCK_MONOTONIC) - start < secs)
	{
		double		before = clock_secs(CLOCK_THREAD_CPUTIME_ID);
		uint64_t	x = 1;

		for (int p = 0; p < PASSES; p++)
			for (uint64_t i = 0; i < WORDS; i++)
				x = x * 6364136223846793005ULL +
					(memory ? words[(i * STRIDE) & (WORDS - 1)] : (x >> 29) + i);
		sink = x;
		printf("%.1f %.3f\n", clock_secs(CLOCK_MONOTONIC) - start,
			   (clock_secs(CLOCK_THREAD_CPUTIME_ID) - before) * 1e3);
		fflush(stdout);
		usleep(500000);
	}
	return 0;
}
