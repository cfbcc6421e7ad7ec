/* `npm run bench`: every benchmark of the project, printed as markdown tables. Not a test: numbers are
   read by people, never asserted. */
import { benchColdStart, benchFunctionBundles, bundlesToMarkdown, toMarkdown as coldMd } from './cold-start';
import { benchLocalEcs, toMarkdown as ecsMd } from './ecs';
import { benchLocalFc, toMarkdown as fcMd } from './fc';
import { benchLocalMns, toMarkdown as mnsMd } from './mns';
import { benchMass, toMarkdown as massMd } from './mass';
import { benchDeployedShape, benchRealism, benchWorkflow } from './workflow';

async function main() {
  console.log('## Workflow\n');
  console.log(await benchWorkflow());
  console.log('');
  console.log(await benchDeployedShape());
  console.log('');
  console.log(await benchRealism());
  console.log('\n## Mass failover\n');
  console.log(massMd(await benchMass()));
  console.log('\n## Local ECS (real SDK, loopback)\n');
  console.log(ecsMd(await benchLocalEcs()));
  console.log('\n## Local MNS\n');
  console.log(mnsMd(await benchLocalMns()));
  console.log('\n## Local FC runtime\n');
  console.log(fcMd(await benchLocalFc()));
  console.log('\n## Function bundles (cold start: median `require` of each dist/functions bundle in fresh node processes, with and without its V8 code cache)\n');
  console.log(bundlesToMarkdown(benchFunctionBundles()));
  console.log('\n## ECS port cold start\n');
  console.log(coldMd(await benchColdStart()));
}
main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
