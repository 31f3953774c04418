/**
 * The request an upgrade is routed with on Node: its method, URL and the
 * headers @hono/node-ws has just built, and nothing else until something
 * asks for more.
 *
 * node-ws answers an upgrade through `app.request(url, { headers }, env)`,
 * and Hono's `request` makes a WHATWG Request of that: undici copies every
 * header into Headers of its own and makes a signal, about 5 KB per upgrade
 * (sampling heap profiler, docs/BENCHMARKS.md). A burst of upgrades keeps
 * dozens in flight across young-generation collections, so that garbage is
 * promoted and stays in the process's memory until V8 compacts, well after
 * the burst. The upgrade path reads the method, the URL and headers only, so
 * node-ws is given an app whose `request` routes this instead; anything else
 * (a body, a signal) makes the real Request from the same values, once.
 *
 * Its prototype chain ends at Request.prototype, as @hono/node-server's own
 * requests do, so `instanceof Request` holds (of the global Request as it is
 * once the server is made, which node-server replaces with a subclass). test/unit/runtime-pins.test.ts
 * fails when node-ws stops answering upgrades through `app.request`.
 */
import type { Hono } from 'hono';

/** The method, URL and headers of an upgrade; the real Request is made from them when more is asked. */
class UpgradeRequest {
  // Private, with getters: fields named url or headers would shadow Request.prototype's accessors, and assigned ones throw.
  readonly #url: string;
  readonly #headers: Headers;
  readonly #method: string;
  #real: Request | undefined;
  constructor(url: string, headers: Headers, method: string) {
    this.#url = url;
    this.#headers = headers;
    this.#method = method;
  }
  get url(): string {
    return this.#url;
  }
  get headers(): Headers {
    return this.#headers;
  }
  // As the client sent it: node:http hands any method with the upgrade headers over as an upgrade, and one that is not
  // a GET must be refused before auth (http/handshake.ts).
  get method(): string {
    return this.#method;
  }
  real(): Request {
    return (this.#real ??= new Request(this.#url, { method: this.#method, headers: this.#headers }));
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Request (an upgrade's) ${this.#method} ${this.#url}`;
  }
}

/** Everything else a Request has, getters and methods, as the real one's, made on first use. */
function delegateTheRest(): void {
  const own = new Set(Object.getOwnPropertyNames(UpgradeRequest.prototype));
  for (let proto: object | null = Request.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (own.has(name)) continue;
      own.add(name);
      const described = Object.getOwnPropertyDescriptor(proto, name)!;
      if (described.get) {
        Object.defineProperty(UpgradeRequest.prototype, name, {
          get(this: UpgradeRequest) {
            return (this.real() as unknown as Record<string, unknown>)[name];
          },
        });
      } else if (typeof described.value === 'function') {
        Object.defineProperty(UpgradeRequest.prototype, name, {
          value(this: UpgradeRequest, ...args: unknown[]) {
            const request = this.real() as unknown as Record<string, (...a: unknown[]) => unknown>;
            return request[name]!(...args);
          },
        });
      }
    }
  }
}
delegateTheRest();

/** Makes the light request an instance of the Request global of now: @hono/node-server's serve() puts a subclass of its own there. */
function extendGlobalRequest(): void {
  if (Object.getPrototypeOf(UpgradeRequest.prototype) !== Request.prototype) Object.setPrototypeOf(UpgradeRequest.prototype, Request.prototype);
}
extendGlobalRequest();

/** A request of this URL with these headers (a GET unless said), as light as Hono's routing lets it be. */
export function upgradeRequest(url: string, headers: Headers, method = 'GET'): Request {
  return new UpgradeRequest(url, headers, method) as unknown as Request;
}

/**
 * The app as node-ws sees it: `request` routes the light request through
 * the app's own fetch. Only what node-ws calls is there.
 */
/**
 * node-ws names every upgrade http://localhost/..., TLS listener or not; the
 * Origin check needs to know a socket is TLS (an http:// page must not open
 * a wss:// socket with the user's cookie), so an encrypted one is https.
 */
export function upgradeUrl(url: string, env: unknown): string {
  const encrypted = (env as { incoming?: { socket?: { encrypted?: boolean } } } | undefined)?.incoming?.socket?.encrypted === true;
  return encrypted && url.startsWith('http:') ? `https:${url.slice('http:'.length)}` : url;
}

export function appForUpgrades(app: Hono): Hono {
  extendGlobalRequest();
  return {
    request: (input: string | URL, init: { headers: Headers }, env: unknown) =>
      app.fetch(upgradeRequest(upgradeUrl(String(input), env), init.headers, (env as { incoming?: { method?: string } } | undefined)?.incoming?.method ?? 'GET'), env),
  } as unknown as Hono;
}
