// The same app on the new frontend system (@backstage/frontend-defaults).
import '@backstage/ui/css/styles.css';
import React from 'react';
import { createRoot } from 'react-dom/client';
import { createApp } from '@backstage/frontend-defaults';
import {
  createFrontendModule,
  createFrontendPlugin,
  PageBlueprint,
} from '@backstage/frontend-plugin-api';
import { SignInPageBlueprint } from '@backstage/plugin-app-react';
import { IdentityPage } from './IdentityPage.jsx';
import { StagepassSignInPage } from './StagepassSignInPage.jsx';

// Replaces the app plugin's default sign-in page (extension id
// "sign-in-page:app", which offers only the guest provider). A
// SignInPageBlueprint outside a module for pluginId "app" has no effect.
const signInModule = createFrontendModule({
  pluginId: 'app',
  extensions: [
    SignInPageBlueprint.make({
      params: { loader: async () => StagepassSignInPage },
    }),
  ],
});

const identityPlugin = createFrontendPlugin({
  pluginId: 'stagepass-test',
  title: 'stagepass test app',
  extensions: [
    PageBlueprint.make({
      params: { path: '/', loader: async () => <IdentityPage /> },
    }),
  ],
});

// Config comes from <script type="backstage.io/config"> in index.html, read by
// frontend-defaults' default config loader.
const app = createApp({ features: [signInModule, identityPlugin] });

createRoot(document.getElementById('root')).render(app.createRoot());
