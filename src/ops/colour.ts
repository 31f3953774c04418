/**
 * Whether text for a terminal may carry ANSI colour: only a terminal shows
 * it; in a pipe or a log file it is noise. NO_COLOR (https://no-color.org)
 * turns it off, FORCE_COLOR on (FORCE_COLOR=0 off), whatever the stream is.
 */
export function colourWanted(env: (name: string) => string | undefined, isTerminal: boolean): boolean {
  if (env('NO_COLOR')) return false;
  const force = env('FORCE_COLOR');
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  return isTerminal && env('TERM') !== 'dumb';
}

const ANSI_SGR = /\x1b\[[0-9;]*m/g;

/** The text without colour and style codes (citty's usage comes with them). */
export function stripColour(text: string): string {
  return text.replace(ANSI_SGR, '');
}
