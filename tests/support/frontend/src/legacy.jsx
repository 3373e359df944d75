// A minimal Backstage app on the legacy frontend system (@backstage/app-defaults).
import React from 'react';
import { createRoot } from 'react-dom/client';
import { Route } from 'react-router-dom';
import { createApp } from '@backstage/app-defaults';
import { AppRouter, FlatRoutes } from '@backstage/core-app-api';
import { AlertDisplay, Header, OAuthRequestDialog, Page } from '@backstage/core-components';
import { IdentityPage } from './IdentityPage.jsx';
import { StagepassSignInPage } from './StagepassSignInPage.jsx';

// Config comes from <script type="backstage.io/config"> in index.html, read by
// core-app-api's default config loader (as with Backstage's app-backend).
const app = createApp({
  components: { SignInPage: StagepassSignInPage },
});

const App = app.createRoot(
  <>
    <AlertDisplay />
    <OAuthRequestDialog />
    <AppRouter>
      <FlatRoutes>
        <Route
          path="/"
          element={
            <Page themeId="home">
              <Header title="stagepass test app" subtitle="legacy frontend system" />
              <IdentityPage />
            </Page>
          }
        />
      </FlatRoutes>
    </AppRouter>
  </>,
);

createRoot(document.getElementById('root')).render(<App />);
