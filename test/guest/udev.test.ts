// The emulated udev of the namespace guests: which rules it applies to a NIC's add event (udev(7)), and
// the environment its RUN programs get.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetnsTopology, assertCanBuildNamespaces } from '../../local/guest/netns-topology';
import { EmulatedUdev } from '../../local/guest/udev';

const MAC = '00:16:3e:bb:00:01';

describe('EmulatedUdev: NIC add events in namespace guests', () => {
  let topo: NetnsTopology | undefined;
  let udev: EmulatedUdev;
  let root = '';

  beforeAll(async () => {
    assertCanBuildNamespaces();
    topo = await NetnsTopology.create();
    await topo.addInstance({ instanceId: 'i-u', cidr: '10.0.5.0/24', ip: '10.0.5.5', mac: '00:16:3e:bb:00:0a' });
    await topo.createEni({ eniId: 'eni-u', mac: MAC, cidr: '10.0.5.0/24', ips: ['10.0.5.10'] });
    udev = new EmulatedUdev(topo, (id) => topo!.guestRoot(id));
    root = topo.guestRoot('i-u');
    // A RUN program that records its argument and udev's environment.
    writeFileSync(join(root, 'probe.sh'), `#!/bin/sh\necho "$1 $ACTION $SUBSYSTEM $INTERFACE $IFINDEX $DEVPATH" >> ${root}/ran\n`);
    chmodSync(join(root, 'probe.sh'), 0o755);
    const rules = (dir: string, name: string, text: string) => {
      mkdirSync(join(root, dir), { recursive: true });
      writeFileSync(join(root, dir, name), text);
    };
    rules('etc/udev/rules.d', '10-match.rules', `# comment\nACTION=="add", SUBSYSTEM=="net", ATTR{address}=="${MAC}", RUN+="${root}/probe.sh match"\n`);
    rules('etc/udev/rules.d', '20-other-mac.rules', `ACTION=="add", SUBSYSTEM=="net", ATTR{address}=="00:16:3e:ff:ff:ff", RUN+="${root}/probe.sh other-mac"\n`);
    rules('etc/udev/rules.d', '30-not.rules', `ACTION=="add", ATTR{address}!="${MAC}", RUN+="${root}/probe.sh negated"\n`);
    rules('etc/udev/rules.d', '40-unknown.rules', `ACTION=="add", NAME="eth9", RUN+="${root}/probe.sh unknown-key"\n`);
    rules('lib/udev/rules.d', '50-masked.rules', `ACTION=="add", RUN+="${root}/probe.sh masked"\n`);
    rules('etc/udev/rules.d', '50-masked.rules', `ACTION=="add", RUN+="${root}/probe.sh etc-wins"\n`);
  });
  afterAll(async () => {
    await topo?.destroy();
  });

  it('runs, after all rules, the programs of the matching rules in lexical order, with the event environment', async () => {
    // Act
    const device = await topo!.attachEni(MAC, 'i-u');
    await udev.settle();

    // Assess
    const lines = readFileSync(join(root, 'ran'), 'utf8').trim().split('\n');
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['match', 'etc-wins']);
    expect(lines[0]).toMatch(new RegExp(`^match add net ${device} \\d+ /devices/virtual/net/${device}$`));
    expect(udev.skipped).toEqual([join(root, 'etc/udev/rules.d/40-unknown.rules:1')]);
    expect(udev.runs.map((r) => r.exitCode)).toEqual([0, 0]);
  });
});
