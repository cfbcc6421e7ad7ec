import { notifierHandlerFromEnvironment } from '../_shared/notifier-function';

/** Function Compute entry for the notifier (s.yaml: handler index.handler, mns_topic trigger on the outcomes topic). */
export const handler = notifierHandlerFromEnvironment();
