// Whether the client of an HTTP invocation is still there, where the host can tell.
import type { InvocationContext } from '@azure/functions';

/**
 * The local host (dev/local-host.ts) publishes an abort signal per HTTP invocation under this
 * global key. The Azure Functions Node.js worker has none: its HttpRequest carries no signal, not
 * even with HTTP streaming (azure-functions-nodejs-library issue 273), so on Azure this is
 * undefined and a long-poll runs to its deadline; the waiter cap bounds what that costs.
 */
const REQUEST_SIGNALS = Symbol.for('acr-replication-gate.local-host.request-signals');

export function clientGoneSignal(context: InvocationContext): AbortSignal | undefined {
  const registry = (globalThis as { [REQUEST_SIGNALS]?: Map<string, AbortSignal> })[
    REQUEST_SIGNALS
  ];
  return registry?.get(context.invocationId);
}
