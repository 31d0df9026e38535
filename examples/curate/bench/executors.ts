// `pnpm bench` (examples/curate): the executors on normalize → exact dedup → decontamination over synthetic
// MATH-style records (1M by default): `processes` with 1 and 2 workers, `bullmq` with 2 workers on a local Redis, and
// `local` (one fused process) for reference. Runs alternate and medians are reported (the machine is shared), with
// the load average, peak RSS per worker and Redis commands per task. Every arm must write the same shards.
// Writes bench-results/executors.json.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, createConnection } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeSyntheticMath } from "../../../packages/data/bench/synthetic.js";

const here = dirname(fileURLToPath(import.meta.url));
const exampleDir = resolve(here, "..");
const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    records: { type: "string" },
    rounds: { type: "string" },
    arms: { type: "string", default: "local,processes-1,processes-2,bullmq-2" },
    quick: { type: "boolean", default: false },
  },
});
const records = Number(values.records ?? (values.quick ? 100_000 : 1_000_000));
const rounds = Number(values.rounds ?? (values.quick ? 1 : 2));
const arms = values.arms.split(",").map((a) => a.trim());
const work = join(tmpdir(), "infialign-bench-executors");
mkdirSync(work, { recursive: true });

interface RunOutput {
  seconds: number;
  coordinatorPeakRssMB: number;
  stages: Array<{ name: string; seconds: number; counts: { in: number; out: number }; execution: { tasks: Record<string, number>; perWorker: Record<string, { tasks: number; records: number; seconds: number; peakRssMB?: number }> } | null; shards: string[] }>;
}
interface ArmRun extends RunOutput {
  arm: string;
  load1: number;
  redisCommands?: number;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  server.close();
  return port;
}

/** One Redis command over a raw socket (the bench needs INFO and PING only). */
async function redisCommand(port: number, command: string): Promise<string> {
  const socket = createConnection({ port, host: "127.0.0.1" });
  await once(socket, "connect");
  socket.write(`${command}\r\n`);
  let text = "";
  for await (const chunk of socket) {
    text += chunk.toString();
    if (command === "PING" ? text.includes("\r\n") : /\r\n\r\n$|\r\n$/.test(text) && text.length > 10) break;
  }
  socket.destroy();
  return text;
}

async function startRedis(): Promise<{ url: string; port: number; stop: () => void }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "infialign-bench-redis-"));
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: "ignore" });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await redisCommand(port, "PING")).includes("PONG")) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, port, stop: () => child.kill("SIGTERM") };
}

async function totalCommands(port: number): Promise<number> {
  const info = await redisCommand(port, "INFO stats");
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

function coordinator(input: string[], arm: string, redis?: string): RunOutput {
  const [executor, workers = "1"] = arm.split("-");
  const args = ["--import", "tsx", join(here, "coordinator.ts"), ...input.flatMap((i) => ["--input", i]), "--runs", join(work, "runs"), "--name", arm, "--executor", executor!, "--workers", workers];
  if (redis) args.push("--redis", redis);
  const out = execFileSync(process.execPath, args, { cwd: exampleDir, encoding: "utf8", env: { ...process.env, CI: "true" }, maxBuffer: 16 << 20, stdio: ["ignore", "pipe", "inherit"] });
  return JSON.parse(out.trim().split("\n").at(-1)!) as RunOutput;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  process.stderr.write(`executors bench: ${records.toLocaleString()} synthetic records, arms ${arms.join(", ")}, ${rounds} round(s), ${cpus().length} cores\n`);
  const input = await writeSyntheticMath({ dir: join(work, `synthetic-${records}`), records });
  let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
  let workers: ChildProcess[] = [];
  const needsRedis = arms.some((a) => a.startsWith("bullmq"));
  if (needsRedis) {
    redis = await startRedis();
    const n = Math.max(...arms.filter((a) => a.startsWith("bullmq")).map((a) => Number(a.split("-")[1] ?? 1)));
    workers = Array.from({ length: n }, () =>
      spawn(process.execPath, ["--import", "tsx", join(exampleDir, "src", "main.ts"), "--worker", "--redis", redis!.url], { cwd: exampleDir, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, CI: "true" } }),
    );
  }
  const runs: ArmRun[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      for (const arm of round % 2 ? [...arms].reverse() : arms) {
        const load1 = loadavg()[0]!;
        const before = redis && arm.startsWith("bullmq") ? await totalCommands(redis.port) : undefined;
        const out = coordinator(input, arm, arm.startsWith("bullmq") ? redis!.url : undefined);
        const redisCommands = before !== undefined ? (await totalCommands(redis!.port)) - before : undefined;
        runs.push({ arm, load1, ...out, ...(redisCommands === undefined ? {} : { redisCommands }) });
        process.stderr.write(`  round ${round + 1} ${arm.padEnd(12)} ${out.seconds.toFixed(1)} s (load ${load1.toFixed(2)})\n`);
      }
    }
  } finally {
    for (const w of workers) w.kill("SIGTERM");
    redis?.stop();
  }

  // Same output whichever executor ran it.
  const reference = JSON.stringify(runs[0]!.stages.map((s) => s.shards));
  const mismatched = runs.filter((r) => JSON.stringify(r.stages.map((s) => s.shards)) !== reference).map((r) => r.arm);
  if (mismatched.length) throw new Error(`executors bench: ${mismatched.join(", ")} wrote other shards than ${runs[0]!.arm}`);

  const summary = Object.fromEntries(
    arms.map((arm) => {
      const mine = runs.filter((r) => r.arm === arm);
      const workerRss = mine.flatMap((r) => r.stages.flatMap((s) => Object.values(s.execution?.perWorker ?? {}).map((w) => w.peakRssMB ?? 0)));
      const tasks = mine[0]!.stages.reduce((n, s) => n + Object.values(s.execution?.tasks ?? {}).reduce((a, b) => a + b, 0), 0);
      return [
        arm,
        {
          seconds: median(mine.map((r) => r.seconds)),
          runs: mine.map((r) => r.seconds),
          load1: mine.map((r) => r.load1),
          recordsPerSecond: Math.round(records / median(mine.map((r) => r.seconds))),
          stageSeconds: Object.fromEntries(mine[0]!.stages.map((s, i) => [s.name, median(mine.map((r) => r.stages[i]!.seconds))])),
          coordinatorPeakRssMB: Math.max(...mine.map((r) => r.coordinatorPeakRssMB)),
          workerPeakRssMB: workerRss.length ? Math.max(...workerRss) : null,
          tasks,
          ...(mine[0]!.redisCommands !== undefined ? { redisCommandsPerRun: median(mine.map((r) => r.redisCommands!)), redisCommandsPerTask: Math.round(median(mine.map((r) => r.redisCommands!)) / Math.max(1, tasks)) } : {}),
        },
      ];
    }),
  ) as Record<string, { seconds: number; recordsPerSecond: number; workerPeakRssMB: number | null; coordinatorPeakRssMB: number; tasks: number; redisCommandsPerTask?: number; stageSeconds: Record<string, number> }>;
  const ratio = (a: string, b: string) => (summary[a] && summary[b] ? summary[a]!.seconds / summary[b]!.seconds : null);
  const ratios = {
    processesSpeedup2vs1: ratio("processes-1", "processes-2"),
    bullmqOverheadVsProcesses2: ratio("bullmq-2", "processes-2") === null ? null : ratio("bullmq-2", "processes-2")! - 1,
    processes2VsLocal: ratio("local", "processes-2"),
  };
  const result = { bench: "executors", records, rounds, cores: cpus().length, date: new Date().toISOString(), summary, ratios, runs };
  const outDir = resolve(exampleDir, "../../bench-results");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "executors.json"), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`\nexecutors on ${records.toLocaleString()} records (normalize → dedup → decontam), medians of ${rounds}\n`);
  process.stdout.write(`| arm | seconds | records/s | tasks | worker peak RSS | coordinator peak RSS | Redis cmds/task |\n|---|---|---|---|---|---|---|\n`);
  for (const [arm, s] of Object.entries(summary)) {
    process.stdout.write(`| ${arm} | ${s.seconds.toFixed(1)} | ${s.recordsPerSecond.toLocaleString()} | ${s.tasks} | ${s.workerPeakRssMB ?? "–"} MB | ${s.coordinatorPeakRssMB} MB | ${s.redisCommandsPerTask ?? "–"} |\n`);
  }
  const fmt = (x: number | null, pct = false) => (x === null ? "n/a" : pct ? `${(100 * x).toFixed(1)}%` : `${x.toFixed(2)}×`);
  process.stdout.write(`processes 2 vs 1 workers: ${fmt(ratios.processesSpeedup2vs1)} · bullmq overhead vs processes (2 workers): ${fmt(ratios.bullmqOverheadVsProcesses2, true)} · processes-2 vs local: ${fmt(ratios.processes2VsLocal)}\n`);
  rmSync(join(work, "runs"), { recursive: true, force: true });
}

await main();
