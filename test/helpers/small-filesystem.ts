/**
 * A small file system of its own (a tmpfs mounted on a fresh temporary folder) that a test can fill up, to
 * see what Tessera does on a full disk. Mounting needs root; the tests run as root (as the PostgreSQL outage
 * test does), and a failed mount is a failure, not a skip.
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SmallFileSystem {
  /** The mount point. */
  readonly dir: string;
  /** Writes a filler file until the file system answers ENOSPC. */
  fill(): void;
  /** Deletes the filler: the space is back. */
  free(): void;
  /** Unmounts the file system (everything on it is gone) and removes the mount point. */
  remove(): void;
}

export function mountSmallFileSystem(size = "2m"): SmallFileSystem {
  const dir = mkdtempSync(join(tmpdir(), "tessera-full-disk-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0755`, "tmpfs", dir], { stdio: "pipe" });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mounting a tmpfs (needs root): ${(error as Error).message}`);
  }
  const filler = join(dir, "filler");
  let mounted = true;
  return {
    dir,
    fill() {
      const fd = openSync(filler, "a");
      const chunk = Buffer.alloc(4096, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      } finally {
        closeSync(fd);
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
    remove() {
      if (mounted) execFileSync("umount", [dir], { stdio: "pipe" });
      mounted = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
