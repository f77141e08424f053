'use strict';
// Node's figures for `cargo xtask bench loop`: the workloads of
// crates/loop-phases/examples/bench_loop.rs, printing the same lines:
//   BENCH <workload> <metric> <value> <unit> <higher|lower>
//   NOTE <workload> <text>
// Usage: node loop.js [timers|immediates|ticks|iterations]
// `timers` runs first so that maxRSS (a process-lifetime peak) is its own.

const IMMEDIATES = 10_000_000;
const TICKS = 10_000_000;
const TIMERS = 1_000_000;
const ITERATIONS_FOR_MS = 1000;

const nowNs = () => process.hrtime.bigint();
const msSince = (t0) => Number(nowNs() - t0) / 1e6;

function bench(workload, metric, value, unit, better) {
  const text = value >= 1000 ? value.toFixed(0) : value.toFixed(1);
  console.log(`BENCH ${workload} ${metric} ${text} ${unit} ${better}`);
}

function timers() {
  return new Promise((resolve) => {
    const cpu0 = process.cpuUsage();
    const t0 = nowNs();
    let fired = 0;
    let setup = 0;
    const onFire = () => {
      if (++fired < TIMERS) return;
      const wall = msSince(t0);
      const cpu = process.cpuUsage(cpu0);
      const peakKiB = process.resourceUsage().maxRSS;
      bench('timers', 'setup', setup, 'ms', 'lower');
      bench('timers', 'wall', wall, 'ms', 'lower');
      bench('timers', 'cpu', (cpu.user + cpu.system) / 1000, 'ms', 'lower');
      bench('timers', 'peak_rss', peakKiB / 1024, 'MiB', 'lower');
      console.log('NOTE timers peak_rss is resourceUsage().maxRSS, the process peak');
      resolve();
    };
    // Delay i % 1000 ms; Node turns 0 into 1 ms, as Eventide does.
    for (let i = 0; i < TIMERS; i++) setTimeout(onFire, i % 1000);
    setup = msSince(t0);
  });
}

function immediates() {
  return new Promise((resolve) => {
    let n = 0;
    const t0 = nowNs();
    const step = () => {
      if (++n < IMMEDIATES) return void setImmediate(step);
      bench('immediates', 'rate', IMMEDIATES / (msSince(t0) / 1000), 'ops/s', 'higher');
      resolve();
    };
    setImmediate(step);
  });
}

function ticks() {
  return new Promise((resolve) => {
    setImmediate(() => {
      let n = 0;
      const t0 = nowNs();
      const tick = () => {
        if (++n < TICKS) return void process.nextTick(tick);
        bench('ticks', 'rate', TICKS / (msSince(t0) / 1000), 'ops/s', 'higher');
        resolve();
      };
      process.nextTick(tick);
    });
  });
}

function iterations() {
  return new Promise((resolve) => {
    let n = 0;
    const t0 = nowNs();
    const step = () => {
      n++;
      // Reading the clock every time would cost more than the iteration.
      if ((n & 1023) !== 0 || msSince(t0) < ITERATIONS_FOR_MS) return void setImmediate(step);
      bench('iterations', 'rate', n / (msSince(t0) / 1000), 'iter/s', 'higher');
      console.log('NOTE iterations Node has no idle handle: one setImmediate per iteration stands in');
      resolve();
    };
    setImmediate(step);
  });
}

const WORKLOADS = { timers, immediates, ticks, iterations };

async function main() {
  const only = process.argv[2];
  if (only !== undefined && !(only in WORKLOADS)) {
    console.error(`loop.js: no workload \`${only}\`; choose one of: ${Object.keys(WORKLOADS).join(', ')}`);
    process.exit(2);
  }
  for (const [name, run] of Object.entries(WORKLOADS)) {
    if (only === undefined || only === name) await run();
  }
}

main();
