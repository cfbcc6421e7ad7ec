import groupsYaml from '../../config/groups.yaml' with { type: 'text' };
import guestScript from '../../guest/configure-eni.sh';
import installScript from '../../guest/install-hook.sh';
import { EntryKind, entryFunctionFromEnvironment } from '../_shared/entry-function';

/**
 * Function Compute entry for timer trigger (planned switch-overs, reconcile, the prepare pass of prepared
 * standbys) (s.yaml: handler index.handler, initializer index.initialize).
 */
export const { handler, initialize } = entryFunctionFromEnvironment(EntryKind.Schedule, groupsYaml, process.env, { guestScript, installScript });
