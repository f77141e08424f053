/*
 * libuv's figures for `cargo xtask bench loop`: the workloads of
 * crates/loop-phases/examples/bench_loop.rs on libuv, printing the same lines:
 *   BENCH <workload> <metric> <value> <unit> <higher|lower>
 *   NOTE <workload> <text>
 *
 * Build: gcc -O2 -o loop_libuv xtask/bench/libuv/loop.c -luv
 * Usage: loop_libuv [timers|immediates|iterations]
 *
 * `timers` runs first so that the peak RSS (getrusage's ru_maxrss, a
 * process-lifetime peak) is its own. libuv has no nextTick: no `ticks` figure.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#define IMMEDIATES 10000000ULL
#define TIMERS 1000000ULL
#define ITERATIONS_FOR_NS 1000000000ULL

static void bench(const char *workload, const char *metric, double value,
                  const char *unit, const char *better) {
  printf("BENCH %s %s %.*f %s %s\n", workload, metric, value >= 1000 ? 0 : 1,
         value, unit, better);
}

static double cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static double peak_rss_mib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

static double ms_since(uint64_t t0) { return (uv_hrtime() - t0) / 1e6; }

static void die(const char *what, int err) {
  fprintf(stderr, "loop_libuv: %s: %s\n", what, uv_strerror(err));
  exit(1);
}

/* ----- timers: 1M uv_timer_t, delay i % 1000 ms (0 -> 1 ms, Node's rule) --- */

static unsigned long long fired;

static void on_timer(uv_timer_t *t) {
  (void)t;
  fired++;
}

static void timers(void) {
  double cpu0 = cpu_ms();
  uint64_t t0 = uv_hrtime();
  uv_loop_t loop;
  int err = uv_loop_init(&loop);
  if (err) die("uv_loop_init", err);
  /* One array, the most frugal layout a C program can have. */
  uv_timer_t *all = malloc(TIMERS * sizeof *all);
  if (!all) die("malloc", UV_ENOMEM);
  for (unsigned long long i = 0; i < TIMERS; i++) {
    uint64_t delay = i % 1000;
    uv_timer_init(&loop, &all[i]);
    uv_timer_start(&all[i], on_timer, delay == 0 ? 1 : delay, 0);
  }
  double setup = ms_since(t0);
  uv_run(&loop, UV_RUN_DEFAULT);
  double wall = ms_since(t0);
  double cpu = cpu_ms() - cpu0;
  double peak = peak_rss_mib();
  if (fired != TIMERS) {
    fprintf(stderr, "loop_libuv: timers: %llu of %llu fired\n", fired, TIMERS);
    exit(1);
  }
  uv_loop_close(&loop);
  free(all);
  bench("timers", "setup", setup, "ms", "lower");
  bench("timers", "wall", wall, "ms", "lower");
  bench("timers", "cpu", cpu, "ms", "lower");
  bench("timers", "peak_rss", peak, "MiB", "lower");
  printf("NOTE timers uv_timer_t array (%zu bytes each); peak_rss is getrusage "
         "ru_maxrss, the process peak\n",
         sizeof(uv_timer_t));
}

/*
 * ----- immediates: Node's setImmediate on libuv ---------------------------
 * Node keeps a check handle that runs the queued immediates, and starts an
 * idle handle while any are queued so that the poll does not block. The
 * queue here is a ring of function pointers (no allocation per immediate).
 */

typedef void (*immediate_cb)(void);

static uv_check_t check;
static uv_idle_t idle;
#define RING 1024
static immediate_cb ring[RING];
static unsigned head, tail; /* tail - head immediates queued */

static void idle_noop(uv_idle_t *h) { (void)h; }

static void set_immediate(immediate_cb cb) {
  if (head == tail) uv_idle_start(&idle, idle_noop);
  ring[tail++ % RING] = cb;
}

static void run_immediates(uv_check_t *h) {
  (void)h;
  /* Immediates queued by these wait for the next iteration, as in Node. */
  unsigned end = tail;
  while (head != end) ring[head++ % RING]();
  if (head == tail) uv_idle_stop(&idle);
}

static unsigned long long links;
static uint64_t chain_start, chain_end;

static void step(void) {
  if (++links < IMMEDIATES) {
    set_immediate(step);
    return;
  }
  chain_end = uv_hrtime();
  uv_check_stop(&check);
}

static void immediates(void) {
  uv_loop_t *loop = uv_default_loop();
  uv_check_init(loop, &check);
  uv_idle_init(loop, &idle);
  uv_check_start(&check, run_immediates);
  chain_start = uv_hrtime();
  set_immediate(step);
  uv_run(loop, UV_RUN_DEFAULT);
  if (links != IMMEDIATES) {
    fprintf(stderr, "loop_libuv: immediates: the chain ran %llu links\n", links);
    exit(1);
  }
  bench("immediates", "rate", IMMEDIATES / ((chain_end - chain_start) / 1e9),
        "ops/s", "higher");
  printf("NOTE immediates libuv has none: Node's scheme (a check handle runs a "
         "queue, an idle handle keeps poll from blocking), one per iteration\n");
}

/* ----- iterations: an idle handle counts empty iterations for 1 s --------- */

static unsigned long long iters;
static uint64_t iter_start;

static void count(uv_idle_t *h) {
  /* Reading the clock every time would cost more than the iteration. */
  if ((++iters & 1023) == 0 && uv_hrtime() - iter_start >= ITERATIONS_FOR_NS)
    uv_idle_stop(h);
}

static void iterations(void) {
  uv_loop_t *loop = uv_default_loop();
  uv_idle_t counter;
  uv_idle_init(loop, &counter);
  iter_start = uv_hrtime();
  uv_idle_start(&counter, count);
  uv_run(loop, UV_RUN_DEFAULT);
  double secs = (uv_hrtime() - iter_start) / 1e9;
  bench("iterations", "rate", iters / secs, "iter/s", "higher");
  printf("NOTE iterations an idle handle counts empty iterations for 1 s "
         "(libuv does not poll when no descriptor is watched)\n");
}

int main(int argc, char **argv) {
  static const struct {
    const char *name;
    void (*run)(void);
  } workloads[] = {
      {"timers", timers}, {"immediates", immediates}, {"iterations", iterations}};
  const char *only = argc > 1 ? argv[1] : NULL;
  int ran = 0;
  for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
    if (only && strcmp(only, workloads[i].name) != 0) continue;
    workloads[i].run();
    fflush(stdout);
    ran = 1;
  }
  if (!ran) {
    fprintf(stderr, "loop_libuv: no workload `%s`; choose one of: timers, "
                    "immediates, iterations\n", only);
    return 2;
  }
  if (!only) printf("NOTE ticks libuv has no nextTick queue\n");
  return 0;
}
