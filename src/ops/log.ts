/**
 * One line per event: `time level event key=value ...`. Callers pass the
 * socket's token hash, never the token; anything that could carry one is
 * the caller's to hash.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Fields = Record<string, string | number | boolean | undefined | null>;

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(event: string, fields?: Fields): void;
  info(event: string, fields?: Fields): void;
  warn(event: string, fields?: Fields): void;
  error(event: string, fields?: Fields): void;
  /** Printed at info whatever the level: where wsgate listens, which scripts on --port 0 need. */
  always(event: string, fields?: Fields): void;
  /** What writes lines it held back to sum them (throttled-log.ts): the process writes them all out before it exits. */
  readonly held?: Set<() => void>;
}

// Controls (C0, DEL, C1), format characters (bidi overrides) and line/paragraph separators: they could colour a
// terminal or make a line read otherwise. JSON.stringify escapes only C0, so the rest is escaped here.
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
const PLAIN = /^[^\s"=\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u;

function escapeHidden(json: string): string {
  // Per UTF-16 unit: a format character beyond the BMP (a tag character) is a surrogate pair.
  return json.replace(HIDDEN, (c) => c.split('').map((unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''));
}

function quote(value: string): string {
  return PLAIN.test(value) ? value : escapeHidden(JSON.stringify(value));
}

export function formatLine(level: Level, event: string, fields: Fields, time = new Date()): string {
  let line = `${time.toISOString()} ${level.toUpperCase().padEnd(5)} ${event}`;
  for (const key in fields) {
    const value = fields[key];
    if (value === undefined || value === null || value === '') continue;
    line += ` ${key}=${quote(String(value))}`;
  }
  return line;
}

/** One JSON object per line, for log shippers: {"time","level","event",...fields}. */
export function formatJson(level: Level, event: string, fields: Fields, time = new Date()): string {
  const out: Record<string, unknown> = { time: time.toISOString(), level, event };
  for (const key in fields) {
    const value = fields[key];
    if (value !== undefined && value !== null && value !== '') out[key] = value;
  }
  return escapeHidden(JSON.stringify(out));
}

export type LogFormat = 'pretty' | 'json';
export const LOG_FORMATS: LogFormat[] = ['pretty', 'json'];
export const LOG_LEVELS: Level[] = ['debug', 'info', 'warn', 'error'];

export function createLogger(write: (line: string) => void, minimum: Level = 'info', format: LogFormat = 'pretty'): Logger {
  const render = format === 'json' ? formatJson : formatLine;
  const at = (level: Level) => (event: string, fields: Fields = {}) => {
    if (ORDER[level] >= ORDER[minimum]) write(render(level, event, fields));
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    always: (event, fields = {}) => write(render('info', event, fields)),
    held: new Set(),
  };
}
