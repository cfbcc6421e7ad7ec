import { Step } from '../../workflow/messages';
import { stepFunctionFromEnvironment } from '../_shared/step-function';

/** Function Compute entry for the validate step (s.yaml: handler index.handler, initializer index.initialize). */
export const { handler, initialize } = stepFunctionFromEnvironment(Step.Validate);
