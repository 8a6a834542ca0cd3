/// <reference types="svelte" />
/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Dev server only: "1" (first run) or "seeded" loads the pretend backend in src/dev/. */
  readonly VITE_CASEBOOK_MOCK?: string;
}
