// Vitest for `npm run test:chaos`: the long fault run and the soak, one file at a time, kept out of `npm test`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    // Alone on the machine: the soak measures memory and throughput of one in-process app.
    fileParallelism: false,
    // The soak forces a GC before it reads the heap.
    execArgv: ['--expose-gc'],
    testTimeout: 150_000,
    hookTimeout: 30_000,
  },
});
