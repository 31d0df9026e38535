// A throwaway redis-server for tests of the BullMQ executor: its own port on 127.0.0.1 and its own data folder, and
// the faults those tests need (crash, restart with or without the append-only file).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Install hint for the redis-server prerequisite (`missingCommand("redis-server", REDIS_SERVER_INSTALL)`). */
export const REDIS_SERVER_INSTALL = "apt-get install -y redis-server";

export interface RedisServerOptions {
  /** Keep data in an append-only file (fsync every write), so a restart keeps the queues. @default false */
  appendonly?: boolean;
  /** Data folder. @default a new temporary folder, removed by `stop()` */
  dir?: string;
  /** @default "redis-server" */
  command?: string;
}

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  dir: string;
  /** Terminates the server (SIGTERM) and removes its temporary folder. */
  stop(): Promise<void>;
  /** SIGKILL: a crash, nothing flushed. `restart()` brings it back. */
  kill(): Promise<void>;
  /**
   * Terminates the server if it runs (SIGTERM: without `appendonly` its data is gone), waits `downMs`, and starts it
   * again on the same port and folder; resolves once it answers PING.
   */
  restart(options?: { downMs?: number }): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (address && typeof address === "object" ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => {
      reply += data.toString();
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Starts redis-server on 127.0.0.1 and a free port (no RDB snapshots; `--appendonly yes` when asked) and resolves
 * once it answers PING. The caller checks the prerequisite first: `missingCommand("redis-server", REDIS_SERVER_INSTALL)`.
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const command = options.command ?? "redis-server";
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "redis-test-"));
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", options.appendonly ? "yes" : "no", "--appendfsync", "always", "--dir", dir];
  let child: ChildProcess | undefined;

  const launch = async () => {
    const proc = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    let output = "";
    proc.stdout?.on("data", (d) => {
      output = (output + d.toString()).slice(-4000);
    });
    proc.stderr?.on("data", (d) => {
      output = (output + d.toString()).slice(-4000);
    });
    const spawnError = new Promise<Error>((resolve) => proc.once("error", resolve));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) break;
      if (await ping(port)) return;
      const failed = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
      if (failed) throw new Error(`[test-utils] redis: could not start ${command}: ${failed.message} (${REDIS_SERVER_INSTALL})`);
    }
    proc.kill("SIGKILL");
    throw new Error(`[test-utils] redis: ${command} ${args.join(" ")} did not answer PING on port ${port} within 10 s. Its output:\n${output}`);
  };

  const terminate = async (signal: NodeJS.Signals) => {
    const proc = child;
    child = undefined;
    if (!proc) return;
    proc.kill(signal);
    await exited(proc);
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async stop() {
      await terminate("SIGTERM");
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
    kill: () => terminate("SIGKILL"),
    async restart({ downMs = 0 } = {}) {
      await terminate("SIGTERM");
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await launch();
    },
  };
}
