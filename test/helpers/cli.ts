/** Runs the built `tessera` binary as a child process, the way an operator would. */
import { spawn } from "node:child_process";

export const BIN = "dist/src/cli/main.js";
export const TEST_MASTER_KEY = "07".repeat(32);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `stdin` is written and closed (how passwords are passed). */
export function runTessera(args: string[], env: Record<string, string>, stdin = ""): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? "", NODE_ENV: "test", TESSERA_MASTER_KEY: TEST_MASTER_KEY, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
