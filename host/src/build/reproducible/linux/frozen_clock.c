/*
 * The clocks of a build tool that snapshots an interpreter, frozen, so that
 * what the interpreter reads from them at start-up (a weak random seed, a
 * garbage collector's time budget) is the same in every build.
 *
 * `slate build` compiles this file into a shared library and preloads it
 * into every process of the tool: its supervisor (build/reproducible/)
 * answers each process's read of /etc/ld.so.preload with a list naming
 * this library. The wall clock reads 1980-01-01T00:00:00Z and the steady
 * clocks read 1000 s, whatever the time. Per-process and per-thread CPU
 * clocks are left alone. Sleeps are real.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* 1980-01-01T00:00:00Z, the earliest time a zip archive can hold. */
#define FROZEN_WALL_SECONDS 315532800
/* What the steady clocks read: any fixed value that is not zero. */
#define FROZEN_STEADY_SECONDS 1000

static int is_wall_clock(clockid_t clock) {
  return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE ||
         clock == CLOCK_REALTIME_ALARM || clock == CLOCK_TAI;
}

static int is_steady_clock(clockid_t clock) {
  return clock == CLOCK_MONOTONIC || clock == CLOCK_MONOTONIC_RAW ||
         clock == CLOCK_MONOTONIC_COARSE || clock == CLOCK_BOOTTIME ||
         clock == CLOCK_BOOTTIME_ALARM;
}

int clock_gettime(clockid_t clock, struct timespec *now) {
  if (is_wall_clock(clock)) {
    now->tv_sec = FROZEN_WALL_SECONDS;
  } else if (is_steady_clock(clock)) {
    now->tv_sec = FROZEN_STEADY_SECONDS;
  } else {
    return (int)syscall(SYS_clock_gettime, clock, now);
  }
  now->tv_nsec = 0;
  return 0;
}

int gettimeofday(struct timeval *restrict now, void *restrict zone) {
  if (now != NULL) {
    now->tv_sec = FROZEN_WALL_SECONDS;
    now->tv_usec = 0;
  }
  if (zone != NULL) {
    memset(zone, 0, 2 * sizeof(int));
  }
  return 0;
}

time_t time(time_t *now) {
  if (now != NULL) {
    *now = FROZEN_WALL_SECONDS;
  }
  return FROZEN_WALL_SECONDS;
}

int timespec_get(struct timespec *now, int base) {
  if (base != TIME_UTC) {
    return 0;
  }
  now->tv_sec = FROZEN_WALL_SECONDS;
  now->tv_nsec = 0;
  return base;
}
