// Application Insights through OpenTelemetry, loaded only when APPLICATIONINSIGHTS_CONNECTION_STRING is set.
import type * as Identity from '@azure/identity';
import type * as AzureMonitor from '@azure/monitor-opentelemetry';
import type { Settings } from '../config/settings';

let started = false;

/**
 * Registers Azure Monitor's OpenTelemetry SDK as the process's global providers, once. The
 * package (and its instrumentations) is required here rather than imported at the top, so a run
 * without the setting never loads it.
 */
export function startAzureMonitor(options: NonNullable<Settings['azureMonitor']>): void {
  if (started) return;
  started = true;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when configured
  const monitor = require('@azure/monitor-opentelemetry') as typeof AzureMonitor;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- likewise: not at every start
  const { ManagedIdentityCredential } = require('@azure/identity') as typeof Identity;
  // The distro turns the Azure SDK's logging on at `warning`, which prints every expected 404
  // read of Cosmos DB; errors only, unless the operator asks for more.
  process.env.APPLICATIONINSIGHTS_INSTRUMENTATION_LOGGING_LEVEL ??= 'ERROR';
  monitor.useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString: options.connectionString,
      // Entra ID (Authorization=AAD): the resource has local (key) auth disabled.
      ...(options.entraId
        ? {
            credential: new ManagedIdentityCredential(
              options.clientId !== undefined ? { clientId: options.clientId } : {},
            ),
          }
        : {}),
    },
  });
}
