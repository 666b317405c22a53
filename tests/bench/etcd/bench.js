// The etcd side of tests/bench/compare-etcd: augur-bench's four workloads
// and its leader-loss trial, through etcd's native gRPC client (npm etcd3).
//
//   node bench.js throughput --endpoints E,E,E --pids P,P,P [--runs N]
//                 [--scale F] [--json FILE]
//   node bench.js leader-loss --endpoints E,E,E --pid-file FMT
//                 --restart-cmd CMD [--trials N] [--json FILE]
//
// Workloads, as augur-bench runs them: seq_write (1 in flight), write_64,
// read_64 (linearizable gets of what write_64 wrote), cas_64 (compare-and-set
// transactions, each in-flight slot on its own key); 256-byte values.
'use strict';
const { Etcd3 } = require('etcd3');
const fs = require('fs');
const { execSync } = require('child_process');

function parseArgs(argv) {
  const a = { mode: argv[0], runs: 3, scale: 1, trials: 10, inflight: 64 };
  for (let i = 1; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, ''), v = argv[i + 1];
    if (v === undefined) throw new Error(`${argv[i]} needs a value`);
    a[k.replace(/-(.)/g, (_, c) => c.toUpperCase())] = v;
  }
  a.runs = +a.runs; a.scale = +a.scale; a.trials = +a.trials; a.inflight = +a.inflight;
  if (!a.endpoints) throw new Error('--endpoints is required');
  a.endpoints = a.endpoints.split(',');
  return a;
}

const nowNs = () => process.hrtime.bigint();
const sleep = ms => new Promise(r => setTimeout(r, ms));
const VALUE = Buffer.alloc(256, 'v');

function procCpuS(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (+f[11] + +f[12]) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch { return 0; }
}

const median = v => { const s = [...v].sort((x, y) => x - y), n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const pct = (sorted, p) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];

// Run @total ops, @inflight at a time; op(i, slot) returns a promise.
async function phase(name, total, inflight, pids, op) {
  const lat = new Float64Array(total);
  let next = 0, errors = 0;
  const cpu0 = pids.reduce((s, p) => s + procCpuS(p), 0);
  const self0 = process.cpuUsage();
  const t0 = nowNs();
  await Promise.all(Array.from({ length: Math.min(inflight, total) }, async (_, slot) => {
    for (let i; (i = next++) < total;) {
      const s = nowNs();
      try { await op(i, slot); } catch (e) {
        if (errors++ < 3) console.error(`etcd-bench: ${name}: ${e.message}`);
      }
      lat[i] = Number(nowNs() - s) / 1e3;
    }
  }));
  const secs = Number(nowNs() - t0) / 1e9;
  const cpu1 = pids.reduce((s, p) => s + procCpuS(p), 0);
  const self = process.cpuUsage(self0);
  const sorted = Array.from(lat).sort((x, y) => x - y);
  const r = {
    ops_per_s: total / secs, p50_us: pct(sorted, 0.5), p99_us: pct(sorted, 0.99),
    max_us: sorted[sorted.length - 1], cpu_s_per_1k_ops: (cpu1 - cpu0) * 1000 / total,
    client_cpu_s_per_1k_ops: (self.user + self.system) / 1e6 * 1000 / total, ops: total, errors,
  };
  console.error(`etcd-bench:   ${name.padEnd(10)} ${r.ops_per_s.toFixed(0).padStart(9)} ops/s  ` +
    `p50 ${r.p50_us.toFixed(0).padStart(8)} us  p99 ${r.p99_us.toFixed(0).padStart(8)} us  ` +
    `server cpu ${r.cpu_s_per_1k_ops.toFixed(3)} s/1k ops  errors ${errors}`);
  return r;
}

async function throughput(a) {
  const pids = (a.pids || '').split(',').filter(Boolean).map(Number);
  const c = new Etcd3({ hosts: a.endpoints });
  const n = base => Math.max(10, Math.floor(base * a.scale));
  const runs = { seq_write: [], write_64: [], read_64: [], cas_64: [] };
  for (let r = 0; r < a.runs; r++) {
    const tag = `b${Date.now().toString(36)}${r}`;
    console.error(`etcd-bench: run ${r + 1}/${a.runs} (tag ${tag})`);
    for (let i = 0; i < 100; i++) await c.put(`${tag}/warm/${i}`).value(VALUE).exec();
    runs.seq_write.push(await phase('seq_write', n(2000), 1, pids,
      i => c.put(`${tag}/s/${i}`).value(VALUE).exec()));
    const written = n(20000);
    runs.write_64.push(await phase('write_64', written, a.inflight, pids,
      i => c.put(`${tag}/w/${i}`).value(VALUE).exec()));
    runs.read_64.push(await phase('read_64', n(20000), a.inflight, pids, async i => {
      const res = await c.get(`${tag}/w/${(i * 7919) % written}`).serializable(false).exec();
      if (res.kvs.length !== 1) throw new Error('a written key is missing');
    }));
    const ver = new Array(a.inflight).fill(0);
    const val = v => String(v).padStart(256, '0');
    await Promise.all(ver.map((_, s) => c.put(`${tag}/cas/${s}`).value(val(0)).exec()));
    runs.cas_64.push(await phase('cas_64', n(10000), a.inflight, pids, async (i, s) => {
      const k = `${tag}/cas/${s}`;
      const t = await c.if(k, 'Value', '==', val(ver[s])).then(c.put(k).value(val(ver[s] + 1))).commit();
      if (!t.succeeded) throw new Error('compare-and-set refused');
      ver[s]++;
    }));
  }
  c.close();
  const out = { runs: a.runs };
  for (const [w, rs] of Object.entries(runs)) {
    out[w] = {};
    for (const k of Object.keys(rs[0])) out[w][k] = median(rs.map(x => x[k]));
    out[w].errors = rs.reduce((s, x) => s + x.errors, 0);
  }
  return out;
}

async function leaderLoss(a) {
  const gaps = [];
  const statusOf = async host => {
    const c = new Etcd3({ hosts: host });
    try { return await c.maintenance.status(); } catch { return null; } finally { c.close(); }
  };
  for (let t = 0; t < a.trials; t++) {
    // A settled cluster: every member up and agreeing on one leader.
    let st, leaderIdx = -1;
    for (let tries = 0; tries < 200 && leaderIdx < 0; tries++) {
      st = await Promise.all(a.endpoints.map(statusOf));
      if (st.every(s => s && s.leader !== '0' && s.leader === st[0].leader)) {
        leaderIdx = st.findIndex(s => s.header.member_id === s.leader);
      }
      if (leaderIdx < 0) await sleep(100);
    }
    if (leaderIdx < 0) throw new Error('no settled leader');
    const node = leaderIdx + 1;
    const pid = +fs.readFileSync(a.pidFile.replace('%d', node), 'utf8');
    const c = new Etcd3({ hosts: a.endpoints, faultHandling: { host: () => require('cockatiel').noop, global: require('cockatiel').noop } });
    let tKill = null, gap = null;
    setTimeout(() => { tKill = nowNs(); process.kill(pid, 'SIGKILL'); }, 1000);
    const deadline = Date.now() + 30000;
    for (let i = 0; gap === null && Date.now() < deadline; i++) {
      const start = nowNs();
      try {
        await c.put(`ll/${t}/${i}`).value(VALUE).options({ deadline: Date.now() + 100 }).exec();
        if (tKill !== null && start >= tKill) gap = Number(nowNs() - tKill) / 1e6;
      } catch { await sleep(1); }
    }
    c.close();
    if (gap === null) throw new Error(`trial ${t + 1}: no put acknowledged within 30 s`);
    gaps.push(gap);
    console.error(`etcd-bench: leader-loss trial ${t + 1}/${a.trials}: killed member ${node}, next put after ${gap.toFixed(0)} ms`);
    execSync(`${a.restartCmd} ${node}`, { stdio: 'inherit' });
  }
  const s = [...gaps].sort((x, y) => x - y);
  return { leader_loss: { trials: a.trials, p50_ms: median(s), p99_ms: pct(s, 0.99), max_ms: s[s.length - 1], samples_ms: gaps } };
}

(async () => {
  const a = parseArgs(process.argv.slice(2));
  let out;
  if (a.mode === 'throughput') out = await throughput(a);
  else if (a.mode === 'leader-loss') out = await leaderLoss(a);
  else throw new Error(`unknown mode ${a.mode}`);
  if (a.json) fs.writeFileSync(a.json, JSON.stringify(out) + '\n');
  console.log(JSON.stringify(out));
  process.exit(0);
})().catch(e => { console.error(`etcd-bench: ${e.message}`); process.exit(1); });
