import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { colourWanted, stripColour } from '../../src/ops/colour.ts';

const env = (values: Record<string, string>) => (name: string) => values[name];

describe('colourWanted', () => {
  it('colours a terminal and nothing else by default', () => {
    assert.equal(colourWanted(env({}), true), true);
    assert.equal(colourWanted(env({}), false), false);
    assert.equal(colourWanted(env({ TERM: 'dumb' }), true), false);
  });
  it('NO_COLOR (any value) turns it off, before FORCE_COLOR', () => {
    assert.equal(colourWanted(env({ NO_COLOR: '1' }), true), false);
    assert.equal(colourWanted(env({ NO_COLOR: 'yes', FORCE_COLOR: '1' }), true), false);
    assert.equal(colourWanted(env({ NO_COLOR: '' }), true), true, 'empty means unset');
  });
  it('FORCE_COLOR turns it on for a pipe, FORCE_COLOR=0 off for a terminal', () => {
    assert.equal(colourWanted(env({ FORCE_COLOR: '1' }), false), true);
    assert.equal(colourWanted(env({ FORCE_COLOR: '3' }), false), true);
    assert.equal(colourWanted(env({ FORCE_COLOR: '0' }), true), false);
    assert.equal(colourWanted(env({ FORCE_COLOR: '' }), false), false);
  });
});

describe('stripColour', () => {
  it('removes SGR codes and keeps the text', () => {
    assert.equal(stripColour('\x1b[4m\x1b[1mUSAGE\x1b[22m\x1b[24m \x1b[36mwsgate\x1b[39m'), 'USAGE wsgate');
  });
});
