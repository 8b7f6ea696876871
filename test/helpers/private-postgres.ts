/**
 * A private PostgreSQL server for outage tests: its own data folder and port, started and stopped by the test
 * (never the shared server on 5432). Runs as the `postgres` system user when the tests run as root (initdb
 * refuses root).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";

const BIN = join("/usr/lib/postgresql", readdirSync("/usr/lib/postgresql").sort().at(-1) as string, "bin");

export interface PrivatePostgres {
  url: string;
  start(): void;
  stop(): void;
  remove(): void;
}

export function createPrivatePostgres(port: number): PrivatePostgres {
  const dir = mkdtempSync("/tmp/tessera-pg-");
  const data = join(dir, "data");
  const root = userInfo().uid === 0;
  const pg = (tool: string, args: string[]) => {
    const command = root ? "runuser" : join(BIN, tool);
    const argv = root ? ["-u", "postgres", "--", join(BIN, tool), ...args] : args;
    execFileSync(command, argv, { stdio: "pipe", timeout: 60_000 });
  };
  if (root) {
    const { uid, gid } = {
      uid: Number(execFileSync("id", ["-u", "postgres"])),
      gid: Number(execFileSync("id", ["-g", "postgres"])),
    };
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
  }
  pg("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: () => pg("pg_ctl", ["-D", data, "-o", options, "-w", "-l", join(dir, "log"), "start"]),
    stop: () => pg("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]),
    remove() {
      try {
        pg("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // Not running.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
