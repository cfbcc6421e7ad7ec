import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import MNSClient from '@alicloud/mns';
import { Keyring } from '../../local/credentials';
import { startLocalMns } from '../../local/mns';
import { ACCOUNT_ID, b64, rejectionOf, testClock } from './helpers';

describe('Local MNS: durability with a data directory', () => {
  let dataDir: string;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'local-mns-'));
  });
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps queues, visible, delayed and in-flight messages (with dequeue counts and handles) across a restart', async () => {
    // Prepare: one in flight, one delayed, one visible
    const { keyring, root } = Keyring.generate();
    const clock = testClock();
    const first = await startLocalMns({ keyring, accountId: ACCOUNT_ID, dataDir, now: clock.now });
    const client1 = new MNSClient(ACCOUNT_ID, { endpoint: first.endpoint, ...root });
    await client1.createQueue('durable', { VisibilityTimeout: 60 });
    await client1.sendMessage('durable', { MessageBody: b64('in-flight') });
    const inFlight = await client1.receiveMessage('durable');
    await client1.sendMessage('durable', { MessageBody: b64('delayed'), DelaySeconds: 30 });
    await client1.sendMessage('durable', { MessageBody: b64('visible') });
    await first.close();

    // Act: a new server on the same directory (another port)
    const second = await startLocalMns({ keyring, accountId: ACCOUNT_ID, dataDir, now: clock.now });
    try {
      const client2 = new MNSClient(ACCOUNT_ID, { endpoint: second.endpoint, ...root });
      const countsAfterRestart = second.queues.counts('durable');
      const visible = await client2.receiveMessage('durable');
      const nothingElse = await rejectionOf(client2.receiveMessage('durable'));
      clock.advance(30_000);
      const delayed = await client2.receiveMessage('durable');
      const deleteWithOldHandle = await client2.deleteMessage('durable', inFlight.body?.ReceiptHandle as string);

      // Assess
      expect(countsAfterRestart).toEqual({ active: 1, inactive: 1, delayed: 1, total: 3 });
      expect(Buffer.from(visible.body?.MessageBody as string, 'base64').toString()).toBe('visible');
      expect(nothingElse.name).toBe('MNSMessageNotExistError');
      expect(Buffer.from(delayed.body?.MessageBody as string, 'base64').toString()).toBe('delayed');
      expect(deleteWithOldHandle.code).toBe(204);
      expect(readdirSync(dataDir)).toEqual(['mns-state.json']); // no temporary file left behind
    } finally {
      await second.close();
    }
  });

  it('redelivers a message that was in flight at shutdown once its visibility timeout ends after the restart', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'local-mns-'));
    const { keyring, root } = Keyring.generate();
    const clock = testClock();
    const first = await startLocalMns({ keyring, accountId: ACCOUNT_ID, dataDir: dir, now: clock.now });
    const c1 = new MNSClient(ACCOUNT_ID, { endpoint: first.endpoint, ...root });
    await c1.createQueue('redeliver', { VisibilityTimeout: 10 });
    await c1.sendMessage('redeliver', { MessageBody: b64('work') });
    await c1.receiveMessage('redeliver');
    await first.close();
    // Act
    const second = await startLocalMns({ keyring, accountId: ACCOUNT_ID, dataDir: dir, now: clock.now });
    try {
      const c2 = new MNSClient(ACCOUNT_ID, { endpoint: second.endpoint, ...root });
      clock.advance(10_000);
      const again = await c2.receiveMessage('redeliver');
      // Assess
      expect(again.body?.DequeueCount).toBe('2');
    } finally {
      await second.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps nothing without a data directory', async () => {
    // Prepare
    const { keyring, root } = Keyring.generate();
    const first = await startLocalMns({ keyring, accountId: ACCOUNT_ID });
    await new MNSClient(ACCOUNT_ID, { endpoint: first.endpoint, ...root }).createQueue('ephemeral');
    await first.close();
    // Act
    const second = await startLocalMns({ keyring, accountId: ACCOUNT_ID });
    // Assess
    expect(second.queues.list()).toEqual([]);
    await second.close();
  });
});
