/**
 * @file benchutil.h
 * @brief CPU time of this process and of others, as the benchmarks count
 * it: user + system, from getrusage or /proc/<pid>/stat.
 *
 * @locality bench only; any thread.
 */
#ifndef PV_BENCH_BENCHUTIL_H
#define PV_BENCH_BENCHUTIL_H

#include <stdbool.h>
#include <sys/types.h>

/** @brief user+sys CPU seconds of this process so far (getrusage). */
double pv_bench_cpu_s(void);

/** CPU of a process from /proc/<pid>/stat. */
typedef struct pv_bench_proc {
  double self_s;     /**< utime + stime */
  double children_s; /**< cutime + cstime: its reaped children */
  pid_t ppid;
} pv_bench_proc_t;

/** @returns false if the process is gone or its stat unreadable. */
bool pv_bench_proc_cpu(pid_t pid, pv_bench_proc_t *out);

/**
 * @brief CPU seconds of a live process's threads to the nanosecond: the
 * sum of /proc/<pid>/task/<tid>/schedstat (stat counts clock ticks, 10 ms:
 * too coarse for the forwarder's 0.1 s over a run). A thread that ended
 * is no longer counted, so sample processes whose threads live as long as
 * the window. Falls back to stat's ticks without schedstat.
 * @returns -1 if the process is gone.
 */
double pv_bench_threads_cpu_s(pid_t pid);

/**
 * @brief CPU seconds of a process tree one level deep: pid itself, the
 * children it has reaped (cutime/cstime) and its live children. Sampled
 * before and after a run, the difference counts every child that lived
 * during the run, even one that started and ended in between (e.g. a
 * PostgreSQL postmaster and its backends, autovacuum and checkpointer).
 * @returns -1 if pid is gone.
 */
double pv_bench_tree_cpu_s(pid_t pid);

#endif
