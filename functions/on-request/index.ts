import groupsYaml from '../../config/groups.yaml' with { type: 'text' };
import { EntryKind, entryHandlerFromEnvironment } from '../_shared/entry-function';

/** Function Compute entry for the requests queue (EventBridge MNS trigger) (s.yaml: handler index.handler). */
export const handler = entryHandlerFromEnvironment(EntryKind.Request, groupsYaml);
