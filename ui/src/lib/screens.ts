// Every screen but Unlock (and Today, which comes with the main app) is its own chunk.
// `mainApp` is fetched just after the Unlock screen is painted, so it is ready by the time
// Unlock is clicked; the others when first opened (or hovered in the menu).

import { lazy } from "./lazy";

export const mainApp = lazy(() => import("../screens/MainApp.svelte"));
export const firstRun = lazy(() => import("../screens/FirstRun.svelte"));

export const clientFile = lazy(() => import("../screens/ClientFile.svelte"));
export const navScreens = {
  week: lazy(() => import("../screens/Week.svelte")),
  clients: lazy(() => import("../screens/Clients.svelte")),
  search: lazy(() => import("../screens/Search.svelte")),
  audit: lazy(() => import("../screens/Audit.svelte")),
  retention: lazy(() => import("../screens/Retention.svelte")),
  backups: lazy(() => import("../screens/Backups.svelte")),
  settings: lazy(() => import("../screens/Settings.svelte")),
};
