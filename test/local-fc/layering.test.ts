import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * The whole local cloud emulates Alibaba Cloud and knows the deployment (s.yaml), never the workflow: no
 * file under local/ imports workflow/, functions/ or cli/. (local/cloud.ts may build the production
 * ECS/MNS ports from cloud/ for the tests' convenience; local/ecs does not even do that, see its own test.)
 */
describe('Local cloud: layering', () => {
  const root = path.join(__dirname, '..', '..', 'local');
  const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));

  it.each(files)('local/%s imports nothing from workflow/, functions/ or cli/', (file) => {
    const source = readFileSync(path.join(root, file), 'utf8');
    const imports = [...source.matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1] as string);
    expect(imports.filter((spec) => /^(\.\.\/)+(workflow|functions|cli)(\/|$)/.test(spec))).toEqual([]);
  });
});
