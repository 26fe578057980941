// Image references as pod specs write them, read as container runtimes read them.
import { describe, expect, it } from 'vitest';
import { parseImageKey } from '../../src/replication/image-key';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('parseImageKey', () => {
  it.each([
    ['contoso.azurecr.io/web:1.2', 'contoso.azurecr.io', 'web', '1.2', null],
    ['contoso.azurecr.io/team/web/api:v1', 'contoso.azurecr.io', 'team/web/api', 'v1', null],
    [`contoso.azurecr.io/web@${DIGEST}`, 'contoso.azurecr.io', 'web', null, DIGEST],
    // The digest is what runs; the tag beside it is kept as a label.
    [`contoso.azurecr.io/web:1.2@${DIGEST}`, 'contoso.azurecr.io', 'web', '1.2', DIGEST],
    ['contoso.azurecr.io/web', 'contoso.azurecr.io', 'web', 'latest', null],
    ['Contoso.AzureCR.io/web:1.2', 'contoso.azurecr.io', 'web', '1.2', null],
    ['localhost:5000/web:dev', 'localhost:5000', 'web', 'dev', null],
    // HTTPS's own port names the same registry: a pod cannot walk past the gate by writing it.
    ['contoso.azurecr.io:443/web:1.2', 'contoso.azurecr.io', 'web', '1.2', null],
    ['localhost/web', 'localhost', 'web', 'latest', null],
    ['nginx', 'docker.io', 'library/nginx', 'latest', null],
    ['nginx:1.27', 'docker.io', 'library/nginx', '1.27', null],
    ['bitnami/redis:7', 'docker.io', 'bitnami/redis', '7', null],
  ])('%s', (text, registry, repository, tag, digest) => {
    expect(parseImageKey(text)).toEqual({ ok: true, image: { registry, repository, tag, digest } });
  });

  it.each([
    ['', 'is empty'],
    ['contoso.azurecr.io/Web:1.2', 'repository'],
    ['contoso.azurecr.io/web:', 'tag'],
    ['contoso.azurecr.io/web:-bad', 'tag'],
    ['contoso.azurecr.io/web@sha256:abc', 'digest'],
    ['contoso.azurecr.io/web@', 'digest'],
    ['contoso.azurecr.io/', 'repository'],
    ['contoso..azurecr.io/web', 'registry'],
    ['contoso.azurecr.io/web:1.2:3', 'repository'],
    ['x'.repeat(2000), 'longer than'],
    ['contoso.azurecr.io/we b:1', 'repository'],
  ])('refuses %j, naming the %s', (text, part) => {
    const parsed = parseImageKey(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toContain(part);
  });
});
