// POST /api/verify/{registry}/{*reference}: checks every required region at its own endpoint now.
import type { HttpHandler } from '@azure/functions';
import { verifyNow, type ImageDeps, type Update } from '../app/follow-image';
import { resolveReference } from '../app/read-status';
import { getRequiredRegions, type RegionsDeps } from '../app/required-regions';
import { updateTag } from '../app/update-tag';
import type { Guard } from './guard';
import { json, parseOr400 } from './handle';
import { HttpProblem } from './problem';
import { statusParamsSchema } from './replication-handlers';

export interface VerifyDeps extends RegionsDeps {
  guard: Guard;
  images?: ImageDeps;
}

export function makeVerifyHandler(deps: VerifyDeps): HttpHandler {
  return deps.guard('verifyImage', async (request) => {
    const { registry, reference } = parseOr400(statusParamsSchema, request.params, 'path', 'path');
    const images = deps.images;
    if (!images) throw new HttpProblem({ status: 503, title: 'Verification unavailable' });
    const { regions } = await getRequiredRegions(deps, registry);
    const found = await resolveReference(deps, registry, reference, regions);
    if (!found || found.evaluation.digest === null) {
      throw new HttpProblem({
        status: 404,
        title: 'Not Found',
        detail: `no arrival of ${registry}/${reference.repository} ${reference.kind === 'tag' ? reference.tag : reference.digest} has been recorded`,
      });
    }
    const update: Update = async (key, change) =>
      (await updateTag(deps, key, change, regions)).record.state;
    const report = await verifyNow({ ...deps, images }, update, found.state, regions);
    return json(200, report);
  });
}
