/**
 * The request body of a bridge route: capped, parsed as JSON and checked
 * against its valibot schema before the handler runs, which reads it with
 * `c.req.valid('json')`.
 *
 * Not `hono/validator`'s json target: that one reads a body only under a JSON
 * Content-Type, and PHP posts JSON as a form body too (cURL's default), which
 * the bridge has always taken.
 */
import * as v from 'valibot';
import { TOO_DEEP, jsonTooDeep } from '../../core/json.ts';
import type { Env, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { error } from './answer.ts';

/** The body cap, read per request since a reload may change it; the rest of a larger body is not read. */
export function capBody(limit: () => number): MiddlewareHandler {
  return (c, next) => {
    const maxSize = limit();
    return bodyLimit({ maxSize, onError: (c) => error(c, 413, `body is larger than the limit of ${maxSize} bytes`) })(c, next);
  };
}

/** valibot's words for a missing key are its own; say which field is missing instead. */
export function problem(issue: v.BaseIssue<unknown>): string {
  const key = issue.path?.[0]?.key;
  if (issue.received === 'undefined' && typeof key === 'string') return `${key} is required`;
  return issue.message;
}

type Body<S extends v.GenericSchema> = { in: { json: v.InferInput<S> }; out: { json: v.InferOutput<S> } };

/** A JSON object that `schema` accepts, whatever the Content-Type; `example` is what the 400 for a non-object shows. */
export function jsonBody<S extends v.GenericSchema>(schema: S, example: string): MiddlewareHandler<Env, string, Body<S>> {
  return async (c, next) => {
    const text = await c.req.text();
    // Data nested deeper than this could not be written out to the sockets (core/json.ts).
    if (jsonTooDeep(text)) return error(c, 400, `body is ${TOO_DEEP}`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      return error(c, 400, text.trim() ? `body is not valid JSON: ${(e as Error).message}` : 'body is empty: expected a JSON object');
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return error(c, 400, `body must be a JSON object like ${example}`);
    const body = v.safeParse(schema, json);
    if (!body.success) return error(c, 400, problem(body.issues[0]));
    c.req.addValidatedData('json', body.output as object);
    await next();
  };
}
