import { b64, rejectionOf, startMnsFixture, statusOf } from './helpers';

// Long polls run on real time (the server waits on real timers), so these tests measure wall time; no
// test waits for a poll to run out.
describe('Local MNS: long polling', () => {
  it('returns a long poll as soon as a message arrives, well before waitseconds', async () => {
    // Prepare
    const f = await startMnsFixture({ now: Date.now });
    try {
      await f.client.createQueue('lp');
      const started = Date.now();
      // Act
      const polling = f.client.receiveMessage('lp', 10);
      await new Promise((r) => setTimeout(r, 150));
      await f.client.sendMessage('lp', { MessageBody: b64('wake up') });
      const got = await polling;
      const elapsed = Date.now() - started;
      // Assess
      expect(Buffer.from(got.body?.MessageBody as string, 'base64').toString()).toBe('wake up');
      expect(elapsed).toBeGreaterThanOrEqual(140); // it did wait for the message...
      expect(elapsed).toBeLessThan(2_000); // ...and did not sit out the 10 s
    } finally {
      await f.mns.close();
    }
  });

  it('wakes a batch long poll for a message whose delay ends during the wait', async () => {
    // Prepare
    // MNS time runs 20x faster than wall time here, so the 1 s delay ends after ~50 ms.
    const t0 = Date.now();
    const f = await startMnsFixture({ now: () => t0 + (Date.now() - t0) * 20 });
    try {
      await f.client.createQueue('lp-delay');
      await f.client.sendMessage('lp-delay', { MessageBody: b64('soon'), DelaySeconds: 1 });
      const started = Date.now();
      // Act
      const got = await f.client.batchReceiveMessage('lp-delay', 4, 5);
      const elapsed = Date.now() - started;
      // Assess
      expect(got.body).toHaveLength(1);
      expect(elapsed).toBeGreaterThanOrEqual(30);
      expect(elapsed).toBeLessThan(1_000);
    } finally {
      await f.mns.close();
    }
  });

  it('answers MessageNotExist at once on an empty queue without a wait', async () => {
    // Prepare
    const f = await startMnsFixture();
    try {
      await f.client.createQueue('lp-empty');
      // Act
      const err = await rejectionOf(f.client.receiveMessage('lp-empty'));
      // Assess
      expect(err.name).toBe('MNSMessageNotExistError');
      expect(statusOf(err)).toBe(404);
    } finally {
      await f.mns.close();
    }
  });

  it('refuses waitseconds above 30 with InvalidArgument', async () => {
    // Prepare
    const f = await startMnsFixture();
    try {
      await f.client.createQueue('lp-range');
      // Act
      const err = await rejectionOf(f.client.receiveMessage('lp-range', 31));
      // Assess
      expect(err.name).toBe('MNSInvalidArgumentError');
    } finally {
      await f.mns.close();
    }
  });

  it('ends pending long polls with MessageNotExist when the server closes', async () => {
    // Prepare
    const f = await startMnsFixture();
    await f.client.createQueue('lp-close');
    const polling = rejectionOf(f.client.receiveMessage('lp-close', 30));
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    // Act
    await f.mns.close();
    const err = await polling;
    // Assess
    expect(err.name).toBe('MNSMessageNotExistError');
    expect(Date.now() - started).toBeLessThan(1_500);
  });
});
