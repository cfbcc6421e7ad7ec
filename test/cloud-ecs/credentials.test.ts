import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromDefaultChain, fromFcContext } from '../../cloud/credentials';

describe('fromFcContext', () => {
  it("returns the function role's STS keys from context.credentials", () => {
    const creds = fromFcContext({ credentials: { accessKeyId: 'STS.a', accessKeySecret: 's', securityToken: 't' } });
    expect(creds).toEqual({ accessKeyId: 'STS.a', accessKeySecret: 's', securityToken: 't' });
  });

  it.each([
    ['no context', undefined, 'accessKeyId, accessKeySecret, securityToken'],
    ['no credentials', {}, 'accessKeyId, accessKeySecret, securityToken'],
    ['an empty token', { credentials: { accessKeyId: 'STS.a', accessKeySecret: 'sekrit-value', securityToken: '' } }, 'securityToken'],
  ])('throws a clear error naming what is missing for %s, never the values', (_label, context, missing) => {
    let message = '';
    try {
      fromFcContext(context);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(`missing: ${missing})`);
    expect(message).toContain('role');
    expect(message).not.toContain('sekrit-value');
  });
});

describe('fromDefaultChain', () => {
  const saved = { ...process.env };
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'creds-home-'));
    for (const k of Object.keys(process.env)) if (k.startsWith('ALIBABA_CLOUD_') || k.startsWith('ALICLOUD_')) delete process.env[k];
    // No profile files and no metadata service: only what the test sets.
    process.env['HOME'] = home;
    process.env['ALIBABA_CLOUD_ECS_METADATA_DISABLED'] = 'true';
  });
  afterEach(() => {
    process.env = { ...saved };
    rmSync(home, { recursive: true, force: true });
  });

  it('reads the STS keys from the environment variables', async () => {
    process.env['ALIBABA_CLOUD_ACCESS_KEY_ID'] = 'STS.env';
    process.env['ALIBABA_CLOUD_ACCESS_KEY_SECRET'] = 'env-secret';
    process.env['ALIBABA_CLOUD_SECURITY_TOKEN'] = 'env-token';
    const get = fromDefaultChain();
    await expect(get()).resolves.toEqual({ accessKeyId: 'STS.env', accessKeySecret: 'env-secret', securityToken: 'env-token' });
  });

  it('rejects with what to set when no source has keys', async () => {
    await expect(fromDefaultChain()()).rejects.toThrow(/ALIBABA_CLOUD_ACCESS_KEY_ID/);
  });
});
