import { Step } from '../../workflow/messages';
import { stepHandlerFromEnvironment } from '../_shared/step-function';

/** Function Compute entry for the validate step (s.yaml: handler index.handler). */
export const handler = stepHandlerFromEnvironment(Step.Validate);
