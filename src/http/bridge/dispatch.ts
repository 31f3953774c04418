/** POST /dispatch: run any target of a configured app, sync, async (202) or streamed (NDJSON). */
import { Hono } from 'hono';
import { stream } from 'hono/streaming';
import type { DispatchJob } from '../../hooks/dispatch.ts';
import type { Logger } from '../../ops/log.ts';
import type { BridgeDispatcher } from '../options.ts';
import { error } from './answer.ts';
import { capBody, jsonBody } from './body.ts';
import type { BridgeGateway } from './gateway.ts';
import { DispatchBody } from './schemas.ts';

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
          const send = (frame: object) => out.write(`${JSON.stringify(frame)}\n`);
          const outcome = await dispatcher.run(job, (data) => void send({ t: 'line', data }));
          if (outcome.ok) await send({ t: 'done', result: outcome.result });
          else {
            logFailure(outcome.error, outcome.stderr);
            await send({ t: 'error', message: outcome.error });
          }
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
