import { startLocalCloud } from '../../local/cloud';
import { ManualClock } from '../../local/fc';
import { operationFor, runThroughQueues, scenarioFile, scenarioGroups } from '../integration/helpers';
it('dbg', async () => {
  const lines: string[] = [];
  const cloud = await startLocalCloud({ scenario: scenarioFile('two-node-failover'), timeScale: 0.01, timerClock: new ManualClock(), failoverGroups: scenarioGroups(scenarioFile('two-node-failover')), functionLogSink: (l) => lines.push(l), logSink: (l) => lines.push(l) });
  try {
    cloud.ecs.control.setInstanceStatus({ instanceId: 'i-primary', status: 'Stopped' });
    const e = await runThroughQueues(cloud, operationFor(cloud, { eniId: 'eni-service', instanceId: 'i-standby', sourceInstanceId: 'i-primary' }), 8000).catch((e) => e);
    console.log(String(e && e.outcome), lines.slice(0, 30).join('\n').slice(0, 6000));
  } finally { await cloud.close(); }
}, 30000);
