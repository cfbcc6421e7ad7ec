import { runCli, type CliIo } from '../../cli/app';
import { drawOperation, duration, knownSplit } from '../../cli/timeline';
import { ExitCode } from '../../cli/usage';
import type { OperationRecord } from '../../workflow/ledger';
import { BindRequest, type OperationEvent, type TimelineEntry } from '../../workflow/messages';
import { newRecord } from '../../workflow/operation';
import { DetachHangsAfterMs } from '../../workflow/steps/attach';
import { allText, findAll, hasClass, parseXml, type XmlElement } from '../helpers/xml';

/**
 * The timeline picture (cli/timeline): drawn from an operation record, checked by parsing the SVG with a
 * strict XML parser and reading back the bars' geometry against the record and its outcome event.
 */

const T = 1_800_000_000_000;

function request(overrides: Partial<Record<string, unknown>> = {}): BindRequest {
  return BindRequest.parse({
    eniId: 'eni-svc',
    instanceId: 'i-b',
    sourceInstanceId: 'i-a',
    regionId: 'cn-hangzhou',
    policy: { fenceSource: true },
    origin: { kind: 'alarm', id: 'service-down/i-a', time: new Date(T).toISOString() },
    ...overrides,
  });
}

const entry = (step: string, outcome: string, at: number, ms: number, calls: Record<string, number>, waits?: string[]): TimelineEntry => ({
  step,
  outcome,
  detail: `${step} ${outcome}`,
  at: T + at,
  ms,
  calls,
  ...(waits ? { waits } : {}),
});

/** A failover as the runner records it: validate, attach twice (the first requeued while Detaching), verify-bound, the guest. */
function failoverRecord(patch: { message?: string; reason?: string; req?: BindRequest; timeline?: TimelineEntry[] } = {}): OperationRecord {
  const req = patch.req ?? request();
  const timeline = patch.timeline ?? [
    entry('validate', 'next', 300, 50, { DescribeNetworkInterfaces: 1, DescribeInstances: 2 }),
    entry('attach', 'wait', 420, 1500, { DetachNetworkInterface: 1, DescribeNetworkInterfaces: 7 }, ['ENI eni-svc is Detaching from i-a (x7)']),
    entry('attach', 'next', 2100, 400, { DescribeNetworkInterfaces: 2, AttachNetworkInterface: 1 }),
    entry('verify-bound', 'next', 2600, 3100, { DescribeNetworkInterfaces: 12 }, ['ENI eni-svc is Attaching to i-b (x11)']),
    entry('configure-guest-routes', 'succeeded', 5800, 1100, { RunCommand: 1, DescribeInvocationResults: 4 }),
  ];
  const base = newRecord(req, T);
  const apiCalls = timeline.reduce((a, t) => a + Object.values(t.calls).reduce((x, y) => x + y, 0), 0);
  const outcome: OperationEvent = {
    kind: 'eni-failover.outcome',
    operationId: base.operationId,
    outcome: 'succeeded',
    ...(patch.reason ? { reason: patch.reason } : {}),
    step: 'configure-guest-routes',
    message: patch.message ?? 'guest configured',
    request: req,
    startedAt: T,
    finishedAt: T + 6950,
    durationMs: 6950,
    apiCalls,
    timeline,
  };
  return {
    ...base,
    status: 'succeeded',
    step: 'configure-guest-routes',
    updatedAt: T + 6950,
    state: { ...base.state, detachRequestedAt: T + 430, detachSentAt: T + 450, attachRequestedAt: T + 2450, attachRequests: 1, boundSeenAt: T + 5650, guestSentAt: T + 5900, guestRuns: 1, leaseHeld: true },
    timeline,
    outcome,
    published: true,
  };
}

interface Axis {
  x0: number;
  px: number;
}
const axisOf = (svg: XmlElement): Axis => ({ x0: Number(svg.attrs['data-x0']), px: Number(svg.attrs['data-px-per-ms']) });
const rectOf = (g: XmlElement) => findAll(g, (e) => e.name === 'rect')[0]!;
const num = (e: XmlElement, a: string) => Number(e.attrs[a]);

describe('timeline picture: the SVG of one operation', () => {
  it('is well-formed XML with one bar per step invocation, placed and sized by the record', () => {
    const record = failoverRecord();
    const svg = parseXml(drawOperation({ record }).svg);
    expect(svg.name).toBe('svg');
    const { x0, px } = axisOf(svg);
    const bars = findAll(svg, hasClass('invocation'));
    expect(bars.map((b) => [b.attrs['data-step'], b.attrs['data-retry'], b.attrs['data-outcome']])).toEqual([
      ['validate', '0', 'next'],
      ['attach', '0', 'wait'],
      ['attach', '1', 'next'],
      ['verify-bound', '0', 'next'],
      ['configure-guest-routes', '0', 'succeeded'],
    ]);
    bars.forEach((bar, i) => {
      const t = record.timeline[i]!;
      const rect = rectOf(bar);
      expect(num(rect, 'x')).toBeCloseTo(x0 + (t.at - T) * px, 0);
      expect(num(rect, 'width')).toBeCloseTo(Math.max(1.5, t.ms * px), 0);
      const calls = Object.values(t.calls).reduce((a, b) => a + b, 0);
      expect(allText(bar)).toContain(`${duration(t.ms)} · ${calls} ECS calls`);
    });
    expect(allText(svg)).toContain('attach · look 2');
  });

  it("ends at the outcome event's duration: the marker, the header and the split all say it", () => {
    const record = failoverRecord();
    const svg = parseXml(drawOperation({ record }).svg);
    const { x0, px } = axisOf(svg);
    const total = findAll(svg, hasClass('total'))[0]!;
    expect(num(total, 'data-ms')).toBe(record.outcome!.durationMs);
    const marker = findAll(total, (e) => e.name === 'line')[0]!;
    expect(num(marker, 'x1')).toBeCloseTo(x0 + 6950 * px, 0);
    expect(allText(findAll(svg, hasClass('outcome'))[0]!)).toBe('SUCCEEDED in 6.95 s');
    // The observed split: the cloud's windows run from each request to the moment the workflow saw it done.
    const split = findAll(svg, hasClass('split'))[0]!;
    expect([num(split, 'data-cloud-ms'), num(split, 'data-policy-ms'), num(split, 'data-overhead-ms')]).toEqual([2000 + 3200 + 1000, 0, 750]);
    const widths = findAll(split, hasClass('segment')).reduce((a, r) => a + num(r, 'width'), 0);
    expect(widths).toBeCloseTo(6950 * px, 0);
  });

  it("draws the cloud's transitions from the record's timestamps, and says how much of the overhead is hops between invocations", () => {
    const svg = parseXml(drawOperation({ record: failoverRecord() }).svg);
    const cloud = findAll(svg, hasClass('cloud')).map((g) => [g.attrs['data-kind'], num(g, 'data-start-ms'), num(g, 'data-ms')]);
    expect(cloud).toEqual([
      ['detach', 450, 2000],
      ['attach', 2450, 3200],
      ['guest', 5900, 1000],
    ]);
    // Gaps no invocation and no transition covers: 0-300, 350-420, 5700-5800, 6900-6950.
    expect(allText(svg)).toContain('overhead = 520 ms between step invocations');
  });

  it('escapes what comes from the cloud and the request: a reason, message, origin and step with <&"\' render as text', () => {
    const nasty = `<script>alert("x")</script> & 'q' ]]> \u0001end`;
    const req = request({ origin: { kind: 'alarm', id: `a<&">'${'\u0007'}`, time: new Date(T).toISOString() } });
    const record = failoverRecord({
      req,
      reason: 'Weird<&">',
      message: nasty,
      timeline: [entry('validate"><g class="invocation', 'next', 300, 50, {}), entry('attach', 'succeeded', 400, 6000, {}, [nasty])],
    });
    const text = drawOperation({ record }).svg;
    const svg = parseXml(text);
    expect(findAll(svg, (e) => e.name === 'script')).toEqual([]);
    expect(findAll(svg, hasClass('invocation')).map((b) => b.attrs['data-step'])).toEqual(['validate"><g class="invocation', 'attach']);
    const all = allText(svg);
    expect(all).toContain(`succeeded (Weird<&">): <script>alert("x")</script> & 'q' ]]> \uFFFDend`);
    expect(all).toContain(`origin alarm a<&">'\uFFFD`);
    expect(text).not.toMatch(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/);
  });

  it("with the cloud's known latencies, splits the total as npm start does: each transition's latency, the hang threshold and forced stop as policy", () => {
    const known = { seconds: { detachSeconds: 2, attachSeconds: 3, stopSeconds: 15, commandSeconds: 1 }, timeScale: 0.5 };
    const base = failoverRecord();
    const fenced: OperationRecord = { ...base, state: { ...base.state, sourceFencedAt: T + 430 + DetachHangsAfterMs * 0.5 + 800, attachRequestedAt: T + 12_000 } };
    const split = knownSplit(6950, fenced, known);
    expect(split).toMatchObject({ cloudMs: (2 + 3 + 1) * 500, policyMs: (20 - 2 + 15) * 500, basis: 'known' });
    expect(split.cloudMs + split.policyMs + split.overheadMs).toBe(6950);
    const svg = parseXml(drawOperation({ record: fenced, known }).svg);
    const kinds = findAll(svg, hasClass('cloud')).map((g) => [g.attrs['data-kind'], num(g, 'data-start-ms'), num(g, 'data-ms')]);
    // The policy's wait ends at the threshold from the detach request, even when the fence was sent later.
    expect(kinds.slice(0, 2)).toEqual([
      ['detach-hang', 450, 430 + DetachHangsAfterMs * 0.5 - 450],
      ['fenced', 430 + DetachHangsAfterMs * 0.5, 12_000 - 430 - DetachHangsAfterMs * 0.5],
    ]);
    // Without known latencies (a real account), the hang and the forced stop it ordered are the policy's time too.
    // (The fence at 1.5 s is a record of a cloud running fast: the threshold ends the wait at the fence at the latest.)
    const early: OperationRecord = { ...base, state: { ...base.state, sourceFencedAt: T + 1500 } };
    const observed = drawOperation({ record: early }).model.split;
    expect([observed.basis, observed.policyMs, observed.cloudMs]).toEqual(['observed', 2450 - 450, 3200 + 1000]);
  });

  it('draws a running operation as far as the record goes, without an outcome', () => {
    const done = failoverRecord();
    const { outcome: _none, ...rest } = done;
    const running: OperationRecord = { ...rest, status: 'running', step: 'verify-bound', attempt: 0, updatedAt: T + 4000, timeline: done.timeline.slice(0, 3), published: false };
    const svg = parseXml(drawOperation({ record: running }).svg);
    expect(allText(findAll(svg, hasClass('outcome'))[0]!)).toBe('RUNNING at verify-bound#0, 4.00 s so far');
    expect(findAll(svg, hasClass('invocation'))).toHaveLength(3);
    expect(Number(findAll(svg, hasClass('total'))[0]!.attrs['data-ms'])).toBe(4000);
  });

  it('says when the record dropped its earliest invocations, and counts no hop before the first one kept', () => {
    const record = { ...failoverRecord(), timelineDropped: 7 };
    const { svg, model } = drawOperation({ record: { ...record, timeline: record.timeline.slice(2) } });
    expect(allText(parseXml(svg))).toContain('7 earlier step invocations are not kept in the record');
    // Kept: attach 2100-2500, verify-bound 2600-5700, guest 5800-6900; uncovered gaps: 5700-5800, 6900-6950.
    expect(model.hopsMs).toBe(150);
    expect(findAll(parseXml(svg), hasClass('hop'))).toHaveLength(2);
  });

  it('marks the ECS calls of the cloud\'s log, refused ones apart', () => {
    const record = failoverRecord();
    const calls = [
      { at: T + 310, action: 'DescribeNetworkInterfaces' },
      { at: T + 460, action: 'DetachNetworkInterface', code: 'Throttling.User' },
      { at: T + 470, action: 'DetachNetworkInterface' },
      { at: T - 5, action: 'DescribeInstances' },
    ];
    const g = findAll(parseXml(drawOperation({ record, calls }).svg), hasClass('calls'))[0]!;
    // The call before the operation started is not this operation's.
    expect([g.attrs['data-count'], g.attrs['data-refused']]).toEqual(['3', '1']);
    expect(findAll(g, (e) => e.name === 'title').map(allText)).toContain('+460 ms DetachNetworkInterface refused Throttling.User: retried');
  });
});

describe('timeline command: usage', () => {
  async function cli(args: string[]) {
    let stdout = '';
    let stderr = '';
    const io: CliIo = { stdout: { write: (t: string) => (stdout += t), isTTY: false }, stderr: { write: (t: string) => (stderr += t) }, env: {}, cwd: '/tmp' };
    const code = await runCli(args, io, { groupsYaml: 'version: 1\ngroups: []\n', guestScript: '' });
    return { code, stdout, stderr };
  }

  // No cloud is configured here (no region, no ledger): each mistake is named before anything is read.
  it.each([
    [['timeline'], /which operation\? eni-failover timeline op-<16 hex digits> \(eni-failover history lists them\)/],
    [['timeline', 'op-123'], /the operation must look like op-<16 hex digits>, not "op-123"/],
    [['timeline', 'op-0123456789abcdef', 'op-0123456789abcdee'], /one operation at a time, not also "op-0123456789abcdee"/],
    [['timeline', 'op-0123456789abcdef', '--out', 'picture.png'], /--out must name an \.svg file \(e\.g\. --out failover\.svg\), not "picture\.png"/],
    [['timeline', 'op-0123456789abcdef', '--out', '/nonexistent-dir/x.svg'], /--out \/nonexistent-dir\/x\.svg: there is no directory \/nonexistent-dir; create it or pick another path/],
    [['timeline', 'op-0123456789abcdef', '--out', '-', '--json'], /--out - writes the SVG to stdout, where --json would write too/],
    [['timeline', 'op-0123456789abcdef', '--colour'], /Unknown option '--colour'/],
  ])('%j is exit 2 on stderr', async (args, message) => {
    const r = await cli(args);
    expect([r.code, r.stdout]).toEqual([ExitCode.Usage, '']);
    expect(r.stderr).toMatch(message);
  });

  it('without a ledger, says how to configure one (exit 2)', async () => {
    const r = await cli(['timeline', 'op-0123456789abcdef', '--region', 'cn-hangzhou']);
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.stderr).toMatch(/no operation ledger configured: pass --ots-instance/);
  });
});
