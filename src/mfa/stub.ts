/** Placeholder while a factor is being built: every method rejects. Removed when the last factor lands. */
export function notImplemented<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get: (_target, name) => async () => {
      throw new Error(`${what}: ${String(name)} is not implemented yet`);
    },
  });
}
