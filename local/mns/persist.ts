import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PersistedState } from './model';

/**
 * Durable state for the local MNS: one JSON snapshot, replaced atomically (write a temporary file, then
 * rename over the old one), so a crash leaves either the previous or the next state, never a torn file.
 * No fsync: durability against power loss is not a goal of a local emulator.
 */
export class SnapshotFile {
  private readonly path: string;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, 'mns-state.json');
  }

  load(): PersistedState | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      return JSON.parse(text) as PersistedState;
    } catch (err) {
      throw new Error(`local MNS state ${this.path} is not valid JSON: move it away to start empty`, { cause: err });
    }
  }

  save(state: PersistedState): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(state));
    renameSync(tmp, this.path);
  }
}
