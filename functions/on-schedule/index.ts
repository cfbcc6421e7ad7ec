import groupsYaml from '../../config/groups.yaml' with { type: 'text' };
import { EntryKind, entryHandlerFromEnvironment } from '../_shared/entry-function';

/** Function Compute entry for timer trigger (planned switch-overs, reconcile) (s.yaml: handler index.handler). */
export const handler = entryHandlerFromEnvironment(EntryKind.Schedule, groupsYaml);
