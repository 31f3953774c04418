/**
 * The resident worker protocol, as Phlo's `phlo_serve` workers speak it: newline-delimited JSON.
 * What a worker prints crosses a process boundary, so it is validated here.
 */
import * as v from 'valibot';
import { TOO_DEEP, parsePeerJson } from '../../core/json.ts';

const Frame = v.variant('t', [
  // `pipeline`: the worker reads jobs one after another from stdin, so the next may be sent before it answers.
  v.object({ t: v.literal('ready'), pipeline: v.optional(v.boolean()) }),
  v.object({ t: v.literal('line'), id: v.string(), data: v.unknown() }),
  // `stderr`: what the job reported of itself with its answer (the SDK's worker: a hook's exception). Read from the
  // answer, it cannot be taken for the next job's, as stderr read from its pipe can (the two pipes have no order).
  // Any type, as `message`: a worker that sends null or an object there is not out of sync.
  v.object({ t: v.literal('done'), id: v.string(), result: v.optional(v.unknown()), stderr: v.optional(v.unknown()) }),
  v.object({ t: v.literal('error'), id: v.string(), message: v.optional(v.unknown()), stderr: v.optional(v.unknown()) }),
  v.object({ t: v.literal('fatal'), message: v.optional(v.unknown()) }),
]);

export type WorkerFrame = v.InferOutput<typeof Frame>;

/** A frame, or a reason why the line is not one (the worker is then out of sync). */
export function parseFrame(line: string): { frame: WorkerFrame } | { problem: string } {
  // Nested deeper than anything is written out again: refused here, not where it would overflow the stack.
  const json = parsePeerJson(line);
  if (!json.ok) return { problem: json.problem === TOO_DEEP ? `printed a frame of ${TOO_DEEP}` : `printed a line that is not JSON: ${JSON.stringify(line.slice(0, 200))}` };
  const parsed = v.safeParse(Frame, json.value);
  if (!parsed.success) return { problem: `printed a frame the protocol does not know: ${line.slice(0, 200)}` };
  return { frame: parsed.output };
}

/** The job frame the gateway writes to a worker's stdin. */
export function jobFrame(id: string, target: string, args: unknown[], stream: boolean, params?: Record<string, string>): string {
  // `params` (the upgrade path's parameters) is a field old workers do not read.
  return `${JSON.stringify(params ? { id, target, args, stream, params } : { id, target, args, stream })}\n`;
}

/** Line data as text: workers normally send strings; anything else goes out as JSON. */
export function lineText(data: unknown): string {
  return typeof data === 'string' ? data : JSON.stringify(data) ?? '';
}
