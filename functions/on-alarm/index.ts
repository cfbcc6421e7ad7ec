import groupsYaml from '../../config/groups.yaml' with { type: 'text' };
import { EntryKind, entryHandlerFromEnvironment } from '../_shared/entry-function';

/** Function Compute entry for CloudMonitor alarm callback (HTTP trigger) (s.yaml: handler index.handler). */
export const handler = entryHandlerFromEnvironment(EntryKind.Alarm, groupsYaml);
