import groupsYaml from '../../config/groups.yaml' with { type: 'text' };
import { EntryKind, entryFunctionFromEnvironment } from '../_shared/entry-function';

/** Function Compute entry for ECS events (EventBridge) (s.yaml: handler index.handler, initializer index.initialize). */
export const { handler, initialize } = entryFunctionFromEnvironment(EntryKind.EcsEvent, groupsYaml);
