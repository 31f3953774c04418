/**
 * Upgrade paths: plain paths, `"*"`, and templates such as
 * `/ws/rooms/{room}` whose parameters reach the hooks and name the channels
 * a socket joins (`"room:{room}"`).
 */

export interface PathRoute {
  /** As written in the config: "/websocket", "*", or a template. */
  template: string;
  /** Channel templates joined by every socket that comes in on this path. */
  channels: string[];
}

/** A path route ready to match: its parameter names and a matcher. */
export interface CompiledPath extends PathRoute {
  names: string[];
  pattern: RegExp | undefined;
}

export interface PathMatch {
  params: Record<string, string> | undefined;
  channels: string[];
}

const PARAM = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

const escape = (text: string) => text.replace(/[.*+?^$()|[\]\\]/g, '\\$&');

/** Why a route cannot be used, if it cannot (for config errors). */
export function pathProblem(route: PathRoute): string | undefined {
  if (route.template !== '*' && !route.template.startsWith('/')) return 'expected a path starting with "/", or "*" for any path';
  const names = [...route.template.matchAll(PARAM)].map((m) => m[1]!);
  if (new Set(names).size !== names.length) return 'a parameter appears twice in the path';
  const bare = route.template.replace(PARAM, '');
  if (/[{}]/.test(bare)) return 'a parameter is written {name}: letters, digits and _, starting with a letter or _';
  for (const channel of route.channels) {
    for (const m of channel.matchAll(PARAM)) {
      if (!names.includes(m[1]!)) return `channel "${channel}" uses {${m[1]}}, which the path does not have`;
    }
  }
  return undefined;
}

export function compilePath(route: PathRoute): CompiledPath {
  const names = [...route.template.matchAll(PARAM)].map((m) => m[1]!);
  if (route.template === '*' || names.length === 0) return { ...route, names, pattern: undefined };
  let source = '';
  let last = 0;
  for (const m of route.template.matchAll(PARAM)) {
    source += `${escape(route.template.slice(last, m.index))}([^/]+)`;
    last = m.index! + m[0].length;
  }
  source += escape(route.template.slice(last));
  return { ...route, names, pattern: new RegExp(`^${source}$`) };
}

const decode = (segment: string) => {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
};

/** Fills a channel template with the path's parameters. */
export function expandChannel(template: string, params: Record<string, string> | undefined): string {
  return template.replace(PARAM, (whole, name: string) => params?.[name] ?? whole);
}

/**
 * The route a request path takes, with its parameters and the channels it
 * joins; undefined when no route accepts it. Exact paths win over templates,
 * templates over `"*"`, in the order written.
 */
export function matchPath(routes: CompiledPath[], path: string): PathMatch | undefined {
  const found = (route: CompiledPath, params?: Record<string, string>): PathMatch => ({ params, channels: route.channels.map((c) => expandChannel(c, params)) });
  for (const route of routes) if (!route.pattern && route.template === path) return found(route);
  for (const route of routes) {
    const m = route.pattern?.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    route.names.forEach((name, i) => (params[name] = decode(m[i + 1]!)));
    return found(route, params);
  }
  for (const route of routes) if (route.template === '*') return found(route);
  return undefined;
}
