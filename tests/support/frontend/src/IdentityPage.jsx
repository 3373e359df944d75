// The one page of both test apps: what Backstage's IdentityApi says about the
// signed-in person, and a catalog call made through Backstage's FetchApi
// (which adds "Authorization: Bearer <the token from /refresh>" for requests to
// backend.baseUrl). Every value sits in an element with a data-testid; the
// element data-testid="identity-state" reads "loading", "ready" or "error".
import React, { useEffect, useState } from 'react';
// Named import: with "type": "module" esbuild gives a default import of a
// CommonJS file (such as @material-ui/core/Button/index.js) Node's meaning,
// module.exports itself, not its `default`.
import { Button } from '@material-ui/core';
import { Content, InfoCard } from '@backstage/core-components';
import { discoveryApiRef, fetchApiRef, identityApiRef, useApi } from '@backstage/core-plugin-api';

function entityName(ref) {
  // kind:namespace/name, namespace and kind optional
  const m = /^(?:[^:/]+:)?(?:[^:/]+\/)?([^:/]+)$/.exec(ref ?? '');
  return m ? m[1] : '';
}

function Row({ label, testId, value }) {
  return (
    <tr>
      <th style={{ textAlign: 'left', paddingRight: 16 }}>{label}</th>
      <td data-testid={testId}>{value ?? ''}</td>
    </tr>
  );
}

export function IdentityPage() {
  const identityApi = useApi(identityApiRef);
  const fetchApi = useApi(fetchApiRef);
  const discoveryApi = useApi(discoveryApiRef);
  const [state, setState] = useState({ phase: 'loading' });

  useEffect(() => {
    let cancelled = false;
    (async () => {
      const identity = await identityApi.getBackstageIdentity();
      const profile = await identityApi.getProfileInfo();
      const name = entityName(identity.userEntityRef);
      const catalogBase = await discoveryApi.getBaseUrl('catalog');
      const res = await fetchApi.fetch(
        `${catalogBase}/entities/by-name/user/default/${encodeURIComponent(name)}`,
      );
      let catalogName = '';
      const text = await res.text();
      try {
        catalogName = JSON.parse(text)?.metadata?.name ?? '';
      } catch {
        catalogName = '';
      }
      if (!cancelled) {
        setState({
          phase: 'ready',
          identity,
          profile,
          catalogStatus: res.status,
          catalogName,
          catalogBody: res.ok ? '' : text.slice(0, 500),
        });
      }
    })().catch((error) => {
      if (!cancelled) setState({ phase: 'error', error: String(error?.stack ?? error) });
    });
    return () => {
      cancelled = true;
    };
  }, [identityApi, fetchApi, discoveryApi]);

  const { identity, profile } = state;
  return (
    <Content>
      <InfoCard title="Signed in through stagepass">
        <p>
          State: <span data-testid="identity-state">{state.phase}</span>
        </p>
        <table>
          <tbody>
            <Row label="User entity" testId="user-entity-ref" value={identity?.userEntityRef} />
            <Row
              label="Ownership"
              testId="ownership-entity-refs"
              value={identity?.ownershipEntityRefs?.join(',')}
            />
            <Row label="Display name" testId="display-name" value={profile?.displayName} />
            <Row label="Email" testId="email" value={profile?.email} />
            <Row label="Catalog status" testId="catalog-status" value={state.catalogStatus} />
            <Row label="Catalog name" testId="catalog-name" value={state.catalogName} />
          </tbody>
        </table>
        {state.catalogBody ? <pre data-testid="catalog-body">{state.catalogBody}</pre> : null}
        {state.error ? <pre data-testid="identity-error">{state.error}</pre> : null}
        <Button
          data-testid="sign-out"
          variant="contained"
          color="primary"
          onClick={() => identityApi.signOut()}
        >
          Sign out
        </Button>
      </InfoCard>
    </Content>
  );
}
