// The sign-in page both apps use: Backstage's own ProxiedSignInPage (which
// reads the session from GET <backend>/api/auth/<provider>/refresh, answered
// here by stagepass), with the identity it produces wrapped so that signing
// out also ends the stagepass session (and, through stagepass, the IdP's).
import React, { useCallback } from 'react';
import { ProxiedSignInPage } from '@backstage/core-components';
import { configApiRef, discoveryApiRef, useApi } from '@backstage/core-plugin-api';

// Wraps the IdentityApi from ProxiedSignInPage. Everything is delegated except
// signOut, which sends the browser to stagepass's logout endpoint.
//
// Why the never-resolving promise: the app's AppIdentityProxy.signOut() awaits
// this method, then (protected-app mode only) DELETEs the app cookie, then sets
// window.location.href to the app's base path ("/"). Resolving would replace
// our navigation to /logout with a navigation to "/" — and as stagepass still
// holds a session, the person would be signed in again at once.
export function withStagepassSignOut(identity, getLogoutUrl) {
  return {
    getUserId: () => identity.getUserId(),
    getIdToken: () => identity.getIdToken(),
    getProfile: () => identity.getProfile(),
    getProfileInfo: () => identity.getProfileInfo(),
    getBackstageIdentity: () => identity.getBackstageIdentity(),
    getCredentials: () => identity.getCredentials(),
    async signOut() {
      // ProxiedSignInIdentity.signOut only aborts its in-flight /refresh fetch.
      await identity.signOut();
      window.location.assign(await getLogoutUrl());
      return new Promise(() => {});
    },
  };
}

export function StagepassSignInPage(props) {
  const configApi = useApi(configApiRef);
  const discoveryApi = useApi(discoveryApiRef);
  // Injected into index.html by server.mjs (<script type="backstage.io/config">).
  const provider = configApi.getString('stagepassTest.provider');
  const { onSignInSuccess } = props;
  const onSuccess = useCallback(
    (identity) => {
      // <backend.baseUrl>/api/auth, the same base ProxiedSignInIdentity uses
      // for /refresh; with backend.baseUrl = stagepass's public URL this is
      // /api/auth/<provider>/logout on stagepass.
      const getLogoutUrl = async () => `${await discoveryApi.getBaseUrl('auth')}/${provider}/logout`;
      onSignInSuccess(withStagepassSignOut(identity, getLogoutUrl));
    },
    [discoveryApi, onSignInSuccess, provider],
  );
  return <ProxiedSignInPage {...props} provider={provider} onSignInSuccess={onSuccess} />;
}
