import { request } from 'node:http';
import { ACCOUNT_ID, type MnsFixture, rejectionOf, startMnsFixture, statusOf } from './helpers';

/** A raw HTTP call, for what the SDK never sends (no Authorization header). */
function rawGet(endpoint: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint}${path}`, { method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Local MNS: authentication', () => {
  let f: MnsFixture;

  beforeAll(async () => {
    f = await startMnsFixture();
    await f.client.createQueue('auth-q');
  });
  afterAll(async () => {
    await f.mns.close();
  });

  it('accepts a request signed with a known key', async () => {
    // Act
    const res = await f.client.getQueueAttributes('auth-q');
    // Assess
    expect(res.code).toBe(200);
    expect(res.body?.QueueName).toBe('auth-q');
  });

  it('answers SignatureDoesNotMatch (403) for a wrong secret', async () => {
    // Prepare
    const wrong = f.clientWith({ accessKeyId: f.root.accessKeyId, accessKeySecret: `${f.root.accessKeySecret}x` });
    // Act
    const err = await rejectionOf(wrong.getQueueAttributes('auth-q'));
    // Assess
    expect(err.name).toBe('MNSSignatureDoesNotMatchError');
    expect(statusOf(err)).toBe(403);
  });

  it('answers InvalidAccessKeyId (403) for an unknown key', async () => {
    // Prepare
    const stranger = f.clientWith({ accessKeyId: 'LTAIunknown', accessKeySecret: 'whatever' });
    // Act
    const err = await rejectionOf(stranger.sendMessage('auth-q', { MessageBody: 'eA==' }));
    // Assess
    expect(err.name).toBe('MNSInvalidAccessKeyIdError');
    expect(statusOf(err)).toBe(403);
    expect(f.mns.queues.counts('auth-q')?.total).toBe(0);
  });

  it('accepts STS credentials only with their security token, and refuses them once expired', async () => {
    // Prepare
    const sts = f.keyring.mintSts(60_000, f.clock.now());
    const withToken = f.clientWith(sts);
    const withoutToken = f.clientWith({ accessKeyId: sts.accessKeyId, accessKeySecret: sts.accessKeySecret });
    const wrongToken = f.clientWith({ ...sts, securityToken: 'forged' });
    // Act
    const ok = await withToken.getQueueAttributes('auth-q');
    const missing = await rejectionOf(withoutToken.getQueueAttributes('auth-q'));
    const forged = await rejectionOf(wrongToken.getQueueAttributes('auth-q'));
    f.clock.advance(60_001);
    const expired = await rejectionOf(withToken.getQueueAttributes('auth-q'));
    f.clock.advance(-60_001);
    // Assess
    expect(ok.code).toBe(200);
    for (const err of [missing, forged, expired]) {
      expect(err.name).toBe('MNSAccessDeniedError');
      expect(statusOf(err)).toBe(403);
    }
    expect(expired.message).toContain('expired');
  });

  it('answers TimeExpired (408) when the request date is more than 15 minutes off the server clock', async () => {
    // Prepare
    f.clock.advance(16 * 60_000);
    // Act
    const err = await rejectionOf(f.client.getQueueAttributes('auth-q'));
    f.clock.advance(-16 * 60_000);
    // Assess
    expect(err.name).toBe('MNSTimeExpiredError');
    expect(statusOf(err)).toBe(408);
  });

  it('answers MissingAuthorizationHeader (400) as MNS XML when no Authorization header is sent', async () => {
    // Act
    const res = await rawGet(f.mns.endpoint, '/queues/auth-q', { date: new Date().toUTCString() });
    // Assess
    expect(res.status).toBe(400);
    expect(res.body).toContain('<Code>MissingAuthorizationHeader</Code>');
    expect(res.body).toContain(`<HostId>http://${ACCOUNT_ID}.mns.cn-hangzhou.aliyuncs.com</HostId>`);
  });

  it('answers InvalidAuthorizationHeader (400) for an Authorization header of another scheme', async () => {
    // Act
    const res = await rawGet(f.mns.endpoint, '/queues/auth-q', { date: new Date().toUTCString(), authorization: 'Bearer abc' });
    // Assess
    expect(res.status).toBe(400);
    expect(res.body).toContain('<Code>InvalidAuthorizationHeader</Code>');
  });
});
