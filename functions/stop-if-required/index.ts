import { Step } from '../../workflow/messages';
import { stepFunctionFromEnvironment } from '../_shared/step-function';

/** Function Compute entry for the stop-if-required step (s.yaml: handler index.handler, initializer index.initialize). */
export const { handler, initialize } = stepFunctionFromEnvironment(Step.StopIfRequired);
