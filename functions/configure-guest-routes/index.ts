import { Step } from '../../workflow/messages';
import guestScript from '../../guest/configure-eni.sh';
import { stepFunctionFromEnvironment } from '../_shared/step-function';

/** Function Compute entry for the configure-guest-routes step (s.yaml: handler index.handler, initializer index.initialize). */
export const { handler, initialize } = stepFunctionFromEnvironment(Step.ConfigureGuestRoutes, guestScript);
