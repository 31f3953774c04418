/** POST /dispatch: run any target of a configured app, sync, async (202) or streamed (NDJSON). */
import { Hono } from 'hono';
import { stream } from 'hono/streaming';
import type { DispatchJob } from '../../hooks/dispatch.ts';
import type { HookOutcome } from '../../hooks/runners/runner.ts';
import type { Logger } from '../../ops/log.ts';
import type { BridgeDispatcher } from '../options.ts';
import { error } from './answer.ts';
import { capBody, jsonBody } from './body.ts';
import type { BridgeGateway } from './gateway.ts';
import { DispatchBody } from './schemas.ts';

type Stream = Parameters<Parameters<typeof stream>[1]>[0];

/** How a streamed job went: its outcome, or cut short for a slow caller while the job still runs. */
type Streamed = { outcome: HookOutcome } | { cut: Promise<HookOutcome> };

const encoder = new TextEncoder();
const ndjson = (frame: object): Uint8Array => encoder.encode(`${JSON.stringify(frame)}\n`);

/**
 * Writes a job's lines to the caller, holding at most `limit` bytes it has
 * not read yet: one who stops reading would otherwise make the gateway keep
 * every line the job prints. Past the bound nothing more is forwarded and
 * the stream ends at once with an error frame; the job runs to its end, as
 * for a caller who went away.
 */
async function streamLines(out: Stream, run: (onLine: (line: string) => void) => Promise<HookOutcome>, limit: number): Promise<Streamed> {
  let queued = 0;
  let cut = false;
  let onCut = () => {};
  const cutShort = new Promise<'cut'>((resolve) => (onCut = () => resolve('cut')));
  const write = (bytes: Uint8Array): Promise<unknown> => {
    queued += bytes.length;
    // StreamingApi.write never rejects: it settles once the caller took the bytes, or the stream was aborted.
    return out.write(bytes).finally(() => (queued -= bytes.length));
  };
  const onLine = (data: string) => {
    if (cut || out.aborted) return;
    const bytes = ndjson({ t: 'line', data });
    // A line that finds nothing waiting always goes: one may be as long as limits.hookLine.
    if (queued === 0 || queued + bytes.length <= limit) return void write(bytes);
    cut = true;
    onCut();
  };
  const running = run(onLine);
  const first = await Promise.race([running, cutShort]);
  // A job that ended in the same turn as the cut still lost lines: its caller must not read a plain "done".
  if (!cut && first !== 'cut') return { outcome: first };
  // Not awaited: it waits behind the lines the caller has yet to read, and the stream's close waits for it.
  void write(ndjson({ t: 'error', message: `the caller read too slowly: more than ${limit} bytes waited for it, and the rest of the output was dropped` }));
  return { cut: running };
}

export function dispatchRoutes(gateway: BridgeGateway, dispatcher: BridgeDispatcher, log: Logger): Hono {
  return new Hono()
    .post('/dispatch', capBody(() => gateway.maxBody), jsonBody(DispatchBody, '{"app": "/srv/app/www/app.php", "target": "tasks::run", "args": []}'), async (c) => {
      const body = c.req.valid('json');
      const checked = await dispatcher.check(body.app);
      if (!checked.ok) return error(c, 400, checked.reason);
      const args = body.args === undefined ? [] : Array.isArray(body.args) ? body.args : [body.args];
      const job: DispatchJob = { app: checked.app, target: body.target, args, build: body.build ?? false };
      const logFailure = (message: string, stderr?: string) => log.error('dispatch failed', { app: job.app, target: job.target, error: message, stderr });

      if (body.async) {
        // Checked and queued in the same turn, so the answer holds: 503 now rather than a 202 for a job that cannot wait.
        const busy = dispatcher.refusal(job);
        if (busy) {
          log.warn('dispatch refused', { app: job.app, target: job.target, reason: busy });
          return error(c, 503, busy);
        }
        void dispatcher.run(job).then((outcome) => {
          if (!outcome.ok) logFailure(outcome.error, outcome.stderr);
        });
        return c.json({ status: 'ok', queued: true }, 202);
      }

      if (body.stream) {
        c.header('content-type', 'application/x-ndjson');
        return stream(c, async (out) => {
          // A caller that goes away does not stop the job: it runs to its end, and what it writes after that is dropped.
          const limit = gateway.sendBuffer;
          const streamed = await streamLines(out, (onLine) => dispatcher.run(job, onLine), limit);
          if ('cut' in streamed) {
            log.warn('dispatch stream cut', { app: job.app, target: job.target, bytes: limit, reason: 'the caller read too slowly' });
            void streamed.cut.then((late) => late.ok || logFailure(late.error, late.stderr));
            return;
          }
          const { outcome } = streamed;
          if (!outcome.ok) logFailure(outcome.error, outcome.stderr);
          await out.write(ndjson(outcome.ok ? { t: 'done', result: outcome.result } : { t: 'error', message: outcome.error }));
        });
      }

      const outcome = await dispatcher.run(job);
      if (!outcome.ok) {
        logFailure(outcome.error, outcome.stderr);
        return error(c, outcome.busy ? 503 : 500, outcome.error);
      }
      return c.json({ status: 'ok', result: outcome.result ?? null });
    })
    .all('/dispatch', (c) => error(c, 405, 'use POST for /dispatch'));
}
