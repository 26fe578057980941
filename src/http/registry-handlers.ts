// GET/PUT /api/registries/{registry}: the regions a tag must reach to count as replicated.
import type { HttpHandler } from '@azure/functions';
import { z } from 'zod';
import { getRequiredRegions, setRequiredRegions, type RegionsDeps } from '../app/required-regions';
import { regionNameSchema, registrySchema } from '../replication/names';
import type { Guard } from './guard';
import { json, parseOr400, readJsonBody } from './handle';

export interface RegistryDeps extends RegionsDeps {
  guard: Guard;
  maxBodyBytes: number;
}

export const registryParamsSchema = z.object({ registry: registrySchema });
export const regionsBodySchema = z.strictObject({
  regions: z.array(regionNameSchema).min(1, 'must name at least one region').max(100),
});

export function makeGetRegistryHandler(deps: RegistryDeps): HttpHandler {
  return deps.guard('getRegistry', async (request) => {
    const { registry } = parseOr400(registryParamsSchema, request.params, 'path', 'path');
    return json(200, await getRequiredRegions(deps, registry));
  });
}

export function makePutRegistryHandler(deps: RegistryDeps): HttpHandler {
  return deps.guard('putRegistry', async (request, context) => {
    const { registry } = parseOr400(registryParamsSchema, request.params, 'path', 'path');
    const body = parseOr400(
      regionsBodySchema,
      await readJsonBody(request, deps.maxBodyBytes),
      'body',
    );
    const result = await setRequiredRegions(deps, registry, body.regions);
    context.log(
      `regions of ${registry} set to ${result.regions.join(',')}: ${result.reevaluated} open round(s) re-evaluated, ${result.completed} completed`,
    );
    return json(200, result);
  });
}
