/*
 * torn_write.c - an LD_PRELOAD shim that tears one real, in-flight PostgreSQL data-page write.
 *
 * Built by tornbench (src/crash/injector.rs) with `cc -shared -fPIC -O2 -o torn_write.so torn_write.c -ldl`
 * and preloaded into the postmaster, so every server process (checkpointer, bgwriter, backends) carries it.
 *
 * Without TORNBENCH_TEAR_ARM in the environment it only forwards the calls. With it, it is a one-shot fault:
 *
 *   1. The tool creates the arm file named by TORNBENCH_TEAR_ARM. Its one line is
 *      "<prefix bytes> <skip> <seed>": keep <prefix bytes> (a multiple of 512 below 8192) of the torn page,
 *      let <skip> matching writes pass first, pick the block of a multi-block write with <seed>.
 *   2. The first server process whose data-file write sees the arm file takes it (rename(2): exactly one
 *      process wins) and counts matching writes: pwrite/pwritev of whole, 8192-byte aligned blocks to a
 *      regular file under base/ (not pg_wal, not a temporary relation), not all zeros (zero-filling a
 *      file extension writes no page).
 *      A write whose bytes after the prefix equal what the file already holds there is passed over and
 *      counted (tearing it would change nothing on disk: "half a tear is no tear"); the tool still proves
 *      every tear independently.
 *   3. On the chosen write it records, in "<arm>.record", the file, offset, prefix and the full intended
 *      8 KiB page (hex), so the tool can prove afterwards that the block on disk matches the page in the
 *      prefix and differs from it after the prefix: a real tear, not a no-op.
 *   4. It stops the postmaster (SIGSTOP, so it forks nothing more), SIGKILLs every other child of the
 *      postmaster, writes only the blocks before the torn one plus the torn block's prefix, then SIGKILLs
 *      the postmaster and itself. The half-written page is the last write the server makes.
 *
 * Nothing is synced: the machine does not die, only the server, so the page cache holds exactly what a
 * disk would hold after a power loss that tore this write.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 8192
#define SECTOR 512

/* Per-process state: set once this process has taken the arm file. */
static int armed_here = 0;
static long noop_passed = 0;
static long prefix_len = 0;
static long skip_left = 0;
static unsigned long pick_seed = 0;

/* The real write: the raw system call, so no other interposer (or we ourselves) runs again. */
static ssize_t real_pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	return syscall(SYS_pwrite64, fd, buf, count, offset);
}

static ssize_t real_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	/* pwritev(2) takes the offset split into low and high words. */
	unsigned long lo = (unsigned long) offset;
	unsigned long hi = 0;
	return syscall(SYS_pwritev, fd, iov, iovcnt, lo, hi);
}

/* Whether fd is a regular data file of a permanent relation under base/; fills path. */
static int is_data_file(int fd, char *path, size_t pathlen)
{
	char link[64];
	struct stat st;
	ssize_t n;
	const char *slash;

	int saved = errno;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
	{
		errno = saved;
		return 0;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, pathlen - 1);
	errno = saved;
	if (n <= 0)
		return 0;
	path[n] = '\0';
	if (strstr(path, "/base/") == NULL || strstr(path, "pg_wal") != NULL)
		return 0;
	slash = strrchr(path, '/');
	/* Temporary relations (t<proc>_<relfilenode>) have no crash safety to test. */
	if (slash == NULL || slash[1] < '0' || slash[1] > '9')
		return 0;
	return 1;
}

/* Whether the arm file exists (one access(2); errno is preserved). */
static int arm_present(void)
{
	const char *arm = getenv("TORNBENCH_TEAR_ARM");
	int saved = errno;
	int present = arm != NULL && access(arm, F_OK) == 0;

	errno = saved;
	return present;
}

/* Takes the arm file if it exists; returns 1 if this process is (now) the armed one. */
static int take_arm(void)
{
	const char *arm = getenv("TORNBENCH_TEAR_ARM");
	char taken[4096];
	FILE *f;
	int saved = errno;

	if (armed_here)
		return 1;
	if (arm == NULL || access(arm, F_OK) != 0)
	{
		errno = saved;
		return 0;
	}
	snprintf(taken, sizeof(taken), "%s.taken", arm);
	if (rename(arm, taken) != 0)
	{
		errno = saved;
		return 0;
	}
	f = fopen(taken, "r");
	if (f == NULL || fscanf(f, "%ld %ld %lu", &prefix_len, &skip_left, &pick_seed) != 3
		|| prefix_len <= 0 || prefix_len >= PAGE || prefix_len % SECTOR != 0 || skip_left < 0)
	{
		/* A malformed arm file: tear at 4 KiB at once rather than silently doing nothing. */
		prefix_len = PAGE / 2;
		skip_left = 0;
		pick_seed = 0;
	}
	if (f != NULL)
		fclose(f);
	armed_here = 1;
	errno = saved;
	return 1;
}

static void write_record(const char *path, off_t offset, const unsigned char *page)
{
	const char *arm = getenv("TORNBENCH_TEAR_ARM");
	char rec[4096], tmp[4096], cmd[256];
	static const char hex[] = "0123456789abcdef";
	FILE *f;
	int cfd;
	ssize_t n;

	snprintf(rec, sizeof(rec), "%s.record", arm);
	snprintf(tmp, sizeof(tmp), "%s.record.tmp", arm);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	memset(cmd, 0, sizeof(cmd));
	cfd = open("/proc/self/cmdline", O_RDONLY);
	if (cfd >= 0)
	{
		n = read(cfd, cmd, sizeof(cmd) - 1);
		for (ssize_t i = 0; i < n; i++)
			if (cmd[i] == '\0' || cmd[i] == '\n')
				cmd[i] = ' ';
		close(cfd);
	}
	fprintf(f, "path=%s\noffset=%lld\nprefix=%ld\npid=%d\nprocess=%s\nnoop_passed=%ld\npage=", path,
			(long long) offset, prefix_len, (int) getpid(), cmd, noop_passed);
	for (int i = 0; i < PAGE; i++)
	{
		fputc(hex[page[i] >> 4], f);
		fputc(hex[page[i] & 15], f);
	}
	fputc('\n', f);
	fclose(f);
	rename(tmp, rec);
}

/* Kills every child of the postmaster but us, with the postmaster stopped so it starts no new one. */
static void stop_the_server(void)
{
	pid_t me = getpid();
	pid_t pm = getppid();
	DIR *d;
	struct dirent *e;

	kill(pm, SIGSTOP);
	d = opendir("/proc");
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
	{
		char statpath[300], buf[512];
		char *close_paren;
		int fd, ppid = 0;
		ssize_t n;
		pid_t pid = (pid_t) atoi(e->d_name);

		if (pid <= 0 || pid == me || pid == pm)
			continue;
		snprintf(statpath, sizeof(statpath), "/proc/%d/stat", (int) pid);
		fd = open(statpath, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		close_paren = strrchr(buf, ')');
		if (close_paren == NULL || sscanf(close_paren + 2, "%*c %d", &ppid) != 1)
			continue;
		if (ppid == pm)
			kill(pid, SIGKILL);
	}
	closedir(d);
}

static int all_zero(const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++)
	{
		const unsigned char *p = iov[i].iov_base;

		for (size_t j = 0; j < iov[i].iov_len; j++)
			if (p[j] != 0)
				return 0;
	}
	return 1;
}

/*
 * Whether keeping only the prefix leaves the block different from the page: the bytes the file holds now
 * after the prefix differ from the page's (or the file ends inside the block). A write whose changes all
 * lie in the prefix cannot be torn for real at this prefix ("half a tear is no tear").
 */
static int tear_would_show(int fd, off_t offset, const unsigned char *page)
{
	unsigned char old[PAGE];
	ssize_t n = syscall(SYS_pread64, fd, old, (size_t) PAGE, offset);

	if (n < PAGE)
		return 1;
	return memcmp(old + prefix_len, page + prefix_len, (size_t) (PAGE - prefix_len)) != 0;
}

/*
 * The common path of every interposed call. Returns -2 to mean "not ours: do the real write"; otherwise
 * it never returns (the process is killed).
 */
static ssize_t maybe_tear(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	char path[4096];
	size_t total = 0;
	int nblocks, pick;
	unsigned char *flat;
	size_t pos = 0;
	size_t keep;

	if (getenv("TORNBENCH_TEAR_ARM") == NULL || offset < 0 || offset % PAGE != 0)
		return -2;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total == 0 || total % PAGE != 0)
		return -2;
	if (!armed_here && !arm_present())
		return -2;
	/* Zero-filling a file extension (smgrzeroextend) writes no page; only real pages count. */
	if (all_zero(iov, iovcnt))
		return -2;
	/* Only a data-file write may take the arm: the WAL writer's aligned writes must not consume it. */
	if (!is_data_file(fd, path, sizeof(path)))
		return -2;
	if (!take_arm())
		return -2;
	if (skip_left > 0)
	{
		skip_left--;
		return -2;
	}
	nblocks = (int) (total / PAGE);
	pick = (int) (pick_seed % (unsigned long) nblocks);
	flat = malloc(total);
	if (flat == NULL)
		return -2;
	for (int i = 0; i < iovcnt; i++)
	{
		memcpy(flat + pos, iov[i].iov_base, iov[i].iov_len);
		pos += iov[i].iov_len;
	}
	if (!tear_would_show(fd, offset + (off_t) pick * PAGE, flat + (size_t) pick * PAGE))
	{
		/* The file already holds the new bytes after the prefix: tearing here would change nothing. */
		noop_passed++;
		free(flat);
		return -2;
	}
	write_record(path, offset + (off_t) pick * PAGE, flat + (size_t) pick * PAGE);
	stop_the_server();
	keep = (size_t) pick * PAGE + (size_t) prefix_len;
	for (size_t done = 0; done < keep;)
	{
		ssize_t w = real_pwrite(fd, flat + done, keep - done, offset + (off_t) done);
		if (w <= 0)
			break;
		done += (size_t) w;
	}
	kill(getppid(), SIGKILL);
	kill(getpid(), SIGKILL);
	_exit(137);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	struct iovec one = {(void *) buf, count};
	ssize_t r = maybe_tear(fd, &one, 1, offset);
	return r == -2 ? real_pwrite(fd, buf, count, offset) : r;
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset)
{
	return pwrite(fd, buf, count, offset);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	ssize_t r = maybe_tear(fd, iov, iovcnt, offset);
	return r == -2 ? real_pwritev(fd, iov, iovcnt, offset) : r;
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	return pwritev(fd, iov, iovcnt, offset);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags)
{
	ssize_t r = maybe_tear(fd, iov, iovcnt, offset);
	if (r != -2)
		return r;
	return syscall(SYS_pwritev2, fd, iov, iovcnt, (unsigned long) offset, 0UL, flags);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags)
{
	return pwritev2(fd, iov, iovcnt, offset, flags);
}
