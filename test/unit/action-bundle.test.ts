// The committed Action bundle must be exactly what its sources build: GitHub runs the file, not the sources.
import * as fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');

describe('action/dist/index.js', () => {
  it('is what npm run build:action builds from the sources today', async () => {
    const build = (await import(pathToFileURL(path.join(root, 'action/build.mjs')).href)) as {
      buildText: () => Promise<string>;
      options: { outfile: string };
    };
    const committed = fs.readFileSync(path.join(root, build.options.outfile), 'utf8');
    const fresh = await build.buildText();
    // One line, not a 1.5 MB diff, when it fails.
    expect(
      committed === fresh,
      'action/dist/index.js is stale: run `npm run build:action` and commit the result',
    ).toBe(true);
  });

  it('is the file action.yml runs, on node24', () => {
    const yml = fs.readFileSync(path.join(root, 'action.yml'), 'utf8');
    expect(yml).toMatch(/^runs:\n {2}using: node24\n {2}main: action\/dist\/index\.js$/m);
  });
});
