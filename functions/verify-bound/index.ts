import { Step } from '../../workflow/messages';
import { stepHandlerFromEnvironment } from '../_shared/step-function';

/** Function Compute entry for the verify-bound step (s.yaml: handler index.handler). */
export const handler = stepHandlerFromEnvironment(Step.VerifyBound);
