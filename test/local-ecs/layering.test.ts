import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** local/ emulates the cloud: it must not import the product (workflow/, functions/, cloud/, cli/). */
describe('Local ECS: layering', () => {
  const dir = path.join(__dirname, '..', '..', 'local', 'ecs');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));

  it.each(files)('%s imports nothing from the product', (file) => {
    const source = readFileSync(path.join(dir, file), 'utf8');
    const imports = [...source.matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1] as string);
    const product = imports.filter((spec) => /^(\.\.\/)+(workflow|functions|cloud|cli)(\/|$)/.test(spec));
    expect(product).toEqual([]);
  });
});
