'use strict';
// Node's figures for `cargo xtask bench streams`: the workloads of
// crates/streams/examples/bench_streams.rs, printing the same lines:
//   BENCH <workload> <metric> <value> <unit> <higher|lower>
//   NOTE <workload> <text>
// Usage: node streams.js [pipe|slow-consumer]   (both, in this order, without one)
//        node streams.js echo-server [PORT]      (prints `listening on ADDR`, runs until killed)
// `cargo xtask bench` runs each workload in a process of its own: maxRSS is a
// process-lifetime peak.

const net = require('net');
const { Readable, PassThrough, Writable, pipeline } = require('stream');

const CHUNK = 64 * 1024;
// Node 20's default is 16 KiB (64 KiB from Node 22): set it, as Eventide's.
const HWM = 64 * 1024;
const PIPE_BYTES = 1 << 30;
const SLOW_BYTES = 32 << 20;

const nowNs = () => process.hrtime.bigint();
const msSince = (t0) => Number(nowNs() - t0) / 1e6;

function bench(workload, metric, value, unit, better) {
  const text = value >= 1000 ? value.toFixed(0) : value.toFixed(2);
  console.log(`BENCH ${workload} ${metric} ${text} ${unit} ${better}`);
}

// Records the largest readableLength after each push and writableLength after
// each write, over the streams given: Eventide's peak lengths.
function tracker(streams) {
  const t = { peak: 0 };
  for (const s of streams) {
    if (typeof s.push === 'function' && s.readable) {
      const push = s.push;
      s.push = function (chunk) {
        const r = push.call(this, chunk);
        t.peak = Math.max(t.peak, this.readableLength);
        return r;
      };
    }
    if (typeof s.write === 'function' && s.writable) {
      const write = s.write;
      s.write = function (...args) {
        const r = write.apply(this, args);
        t.peak = Math.max(t.peak, this.writableLength);
        return r;
      };
    }
  }
  return t;
}

// Pushes `n` chunks: the same Buffer each time, or a fresh filled one.
function source(n, fresh) {
  const buf = Buffer.alloc(CHUNK, 1);
  let left = n;
  return new Readable({
    highWaterMark: HWM,
    read() {
      for (;;) {
        if (left === 0) return void this.push(null);
        left--;
        if (!this.push(fresh ? Buffer.alloc(CHUNK, 1) : buf)) return;
      }
    },
  });
}

function pipe() {
  return new Promise((resolve, reject) => {
    let received = 0;
    const src = source(PIPE_BYTES / CHUNK, false);
    const through = new PassThrough({ highWaterMark: HWM });
    const sink = new Writable({
      highWaterMark: HWM,
      write(chunk, _enc, cb) {
        received += chunk.length;
        cb();
      },
    });
    const t = tracker([src, through, sink]);
    const t0 = nowNs();
    pipeline(src, through, sink, (err) => {
      if (err) return reject(err);
      const ms = msSince(t0);
      if (received !== PIPE_BYTES) return reject(new Error(`${received} of ${PIPE_BYTES} bytes arrived`));
      bench('pipe', 'throughput', PIPE_BYTES / (ms / 1000) / 1e9, 'GB/s', 'higher');
      bench('pipe', 'peak_buffered', t.peak / 1024, 'KiB', 'lower');
      bench('pipe', 'peak_rss', process.resourceUsage().maxRSS / 1024, 'MiB', 'lower');
      console.log('NOTE pipe peak_rss is resourceUsage().maxRSS, the process peak');
      resolve();
    });
  });
}

function slowConsumer() {
  return new Promise((resolve, reject) => {
    const rss0 = process.memoryUsage().rss;
    let received = 0;
    const src = source(SLOW_BYTES / CHUNK, true);
    const slow = new Writable({
      highWaterMark: HWM,
      write(chunk, _enc, cb) {
        received += chunk.length;
        setTimeout(cb, 1);
      },
    });
    const t = tracker([src, slow]);
    const t0 = nowNs();
    pipeline(src, slow, (err) => {
      if (err) return reject(err);
      const ms = msSince(t0);
      if (received !== SLOW_BYTES) return reject(new Error(`${received} of ${SLOW_BYTES} bytes arrived`));
      const peakRss = process.resourceUsage().maxRSS * 1024;
      bench('slow-consumer', 'peak_buffered', t.peak / 1024, 'KiB', 'lower');
      bench('slow-consumer', 'peak_rss', peakRss / 2 ** 20, 'MiB', 'lower');
      bench('slow-consumer', 'rss_growth', Math.max(0, peakRss - rss0) / 2 ** 20, 'MiB', 'lower');
      bench('slow-consumer', 'wall', ms, 'ms', 'lower');
      resolve();
    });
  });
}

function echoServer(port) {
  const server = net.createServer((socket) => {
    // A load generator that goes away resets its connections: not an error here.
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  server.listen(port, '127.0.0.1', () => {
    const a = server.address();
    console.log(`listening on ${a.address}:${a.port}`);
  });
}

const WORKLOADS = { pipe, 'slow-consumer': slowConsumer };

async function main() {
  const [what, arg] = process.argv.slice(2);
  if (what === 'echo-server') return echoServer(Number(arg) || 0);
  const names = what ? [what] : Object.keys(WORKLOADS);
  for (const name of names) {
    if (!WORKLOADS[name]) {
      console.error(`streams.js: no workload \`${name}\`; choose one of: ${Object.keys(WORKLOADS).join(', ')}, or echo-server [PORT]`);
      process.exit(2);
    }
    await WORKLOADS[name]();
  }
}

main().catch((e) => {
  console.error(`streams.js: ${e.stack || e}`);
  process.exit(1);
});
