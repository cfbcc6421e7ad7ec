import { timelineModel, type TimelineInput, type TimelineModel } from './model';
import { duration, renderTimelineSvg } from './svg';

export { timelineModel, knownSplit, type KnownLatency, type LoggedCall, type TimelineInput, type TimelineModel } from './model';
export { renderTimelineSvg, duration } from './svg';

/**
 * The timeline picture of one operation (`eni-failover timeline`, `npm start`): model.ts reads where the
 * time went from the ledger record, svg.ts draws it. Pure: the callers read the record and write the file.
 */

/** The picture of one operation and the model it was drawn from. */
export function drawOperation(input: TimelineInput): { svg: string; model: TimelineModel } {
  const model = timelineModel(input);
  return { svg: renderTimelineSvg(model), model };
}

/** One line that says what the picture shows: the outcome, and where the time went. */
export function summariseTimeline(model: TimelineModel): string {
  const s = model.split;
  const how = model.outcome ? `${model.outcome.outcome}${model.outcome.reason ? ` (${model.outcome.reason})` : ''} in ${duration(model.totalMs)}` : `still running (${duration(model.totalMs)} so far, at ${model.at.step}#${model.at.attempt})`;
  return `${how}, ${model.bars.length} step invocations, ${model.apiCalls} ECS calls; cloud ${duration(s.cloudMs)} (${s.basis}), policy wait ${duration(s.policyMs)}, overhead ${duration(s.overheadMs)}${model.status === 'running' ? '; draw it again for the rest' : ''}`;
}
