#!/usr/bin/env node
// The acr-gate command: runs the compiled CLI (npm run build produces dist/).
require('../dist/src/cli/main.js')
  .main()
  .catch((error) => {
    process.stderr.write(`acr-gate: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
