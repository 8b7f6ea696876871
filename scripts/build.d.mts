export function ensureBuilt(log?: (line: string) => void): void;
