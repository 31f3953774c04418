/** The shapes of the bridge's bodies and queries, with the words a PHP developer sees when one is wrong. */
import * as v from 'valibot';
import { appCloseCode, closeReasonFits } from '../../core/close-codes.ts';
import { channelProblem } from '../../core/targets.ts';

const host = v.optional(v.nullable(v.string('expected host to be a string')));

export const MessageBody = v.looseObject({
  host,
  target: v.optional(v.unknown()),
  except: v.optional(v.unknown()),
  // The old servers send {} when data is missing; every value that was given goes as it came.
  data: v.optional(v.unknown(), () => ({})),
});

export const SubscribeBody = v.looseObject({
  host,
  target: v.optional(v.unknown()),
  channel: v.string('channel must be a string'),
});

export const DisconnectBody = v.looseObject({
  host,
  target: v.optional(v.unknown()),
  code: v.optional(v.pipe(v.number('code must be a number'), v.check(appCloseCode, 'code must be 1000, 1001, 1008, 1011, 1012, 1013 or 3000-4999'))),
  reason: v.optional(v.pipe(v.string('reason must be a string'), v.check(closeReasonFits, 'reason must be at most 123 bytes'))),
});

export const DispatchBody = v.looseObject({
  app: v.string('app must be the path of an app.php'),
  target: v.pipe(v.string('target must be a string such as "tasks::run"'), v.nonEmpty('target must not be empty')),
  args: v.optional(v.unknown()),
  stream: v.optional(v.boolean('stream must be true or false')),
  async: v.optional(v.boolean('async must be true or false')),
  build: v.optional(v.boolean('build must be true (one-shot) or false (resident pool)')),
});

/** A channel name the bridge can act on, with `hint` after the reason when it is not. */
const channelName = <T>(channel: (value: T) => string | undefined, hint = '') =>
  v.rawCheck<T>(({ dataset, addIssue }) => {
    const name = dataset.typed ? channel(dataset.value) : undefined;
    const reason = name === undefined ? undefined : channelProblem(name);
    if (reason) addIssue({ message: `${reason}${hint}` });
  });

/** The query of GET /presence (after the host). Checks run in order and the first failure is the answer. */
export const PresenceQuery = v.pipe(
  v.object({ channel: v.optional(v.string(), '') }),
  channelName<{ channel: string }>((q) => q.channel, ' (give ?channel=)'),
);

type HistoryFields = { channel?: string; token?: string; since?: string; epoch?: string };

/** The query of GET /history (after the host): a channel or a token, and where the caller stopped. */
export const HistoryQuery = v.pipe(
  v.object({ channel: v.optional(v.string()), token: v.optional(v.string()), since: v.optional(v.string()), epoch: v.optional(v.string()) }),
  v.check((q) => (q.channel === undefined) !== (q.token === undefined), 'give ?channel=<name> (or @all for host-wide casts), or ?token=<t> for casts to a token'),
  channelName<HistoryFields>((q) => q.channel),
  v.check((q) => q.since === undefined || (/^\d+$/.test(q.since) && Number.isSafeInteger(Number(q.since))), 'since must be an offset: a whole number of 0 or more'),
  v.check((q) => q.since === undefined || !!q.epoch, 'since needs the epoch it belongs to: give &epoch='),
  v.transform((q) => ({
    ...(q.channel !== undefined ? { channel: q.channel } : {}),
    stream: q.channel !== undefined ? { channel: q.channel } : { token: q.token! },
    since: q.since === undefined ? undefined : { epoch: q.epoch!, offset: Number(q.since) },
  })),
);
