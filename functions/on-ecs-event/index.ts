import groupsYaml from '../../config/groups.yaml' with { type: 'text' };
import { EntryKind, entryHandlerFromEnvironment } from '../_shared/entry-function';

/** Function Compute entry for ECS events (EventBridge) (s.yaml: handler index.handler). */
export const handler = entryHandlerFromEnvironment(EntryKind.EcsEvent, groupsYaml);
