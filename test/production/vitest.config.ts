// Vitest for `npm run test:production` (a CI step, not part of `npm test`: the install takes ~20-30 s).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/production/**/*.prod.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
  },
});
