// The app's shared state: which screen shows, where the person is in the main app, and the
// few things every screen reads (settings, templates, instruments, the notice banner).
// Clinical data is not kept here: each screen loads what it shows and drops it when it
// closes, and `lockedOut` drops everything else.

import {
  api,
  errorMessage,
  isAppError,
  type AppStatus,
  type CalendarPreview,
  type InstrumentInfo,
  type KeyStore,
  type Settings,
  type Templates,
  type Today,
} from "./api";
import { DEFAULT_SETTINGS } from "./settings";
import { clock } from "./clock.svelte";
import { afterPaint } from "./lazy";
import { practice } from "./practice.svelte";
import { sync } from "./sync.svelte";

export type Screen = "loading" | "error" | "first-run" | "unlock" | "main";

export type ClientTab = "sessions" | "notes" | "process" | "measures" | "rights";

export type View =
  | { name: "today"; focus?: "adhoc" }
  | { name: "week" }
  | { name: "clients" }
  | { name: "client"; code: string; tab?: ClientTab; noteId?: string | null }
  | { name: "search" }
  | { name: "audit" }
  | { name: "retention" }
  | { name: "backups" }
  | { name: "settings"; section?: "calendar" | "offsite" | "practice" | "sessions" | "sync" };

export type NavName = "today" | "week" | "clients" | "search" | "audit" | "retention" | "backups" | "settings";

class AppState {
  screen = $state<Screen>("loading");
  status = $state<AppStatus | null>(null);
  loadError = $state("");
  view = $state<View>({ name: "today" });
  settings = $state<Settings>({ ...DEFAULT_SETTINGS });
  templates = $state<Templates | null>(null);
  instruments = $state<InstrumentInfo[] | null>(null);
  notice = $state<string | null>(null);
  /** Changes the automatic calendar check found, for the banner; null once seen or dismissed. */
  calendarChanges = $state<CalendarPreview | null>(null);
  /** Bumped when something changes the day's data (a session started or ended, a calendar import). */
  dayVersion = $state(0);
  lockError = $state("");
  /** Ctrl+N asked for a new note in this client's file: its notes tab opens one and clears this. */
  newNoteFor = $state<string | null>(null);
  /** With `newNoteFor`: the session that note is for ("Write note" on a session); null for none. */
  newNoteSession = $state<string | null>(null);
  /** The day as the unlock returned it, for Today's first showing only (see `takeToday`). */
  private firstToday: Today | null = null;

  /** Asks the core where we are and shows the matching screen. */
  async refresh(): Promise<void> {
    try {
      const s = await api.status();
      this.status = s;
      this.loadError = "";
      if (!s.vault_exists) this.screen = "first-run";
      else if (!s.unlocked) this.dropData("unlock");
      else this.enterMain();
    } catch (e) {
      this.loadError = errorMessage(e);
      this.screen = "error";
    }
  }

  /**
   * The vault is open: show Today. `today` is the day the unlock returned, so Today shows
   * without asking again; the settings are fetched once Today is painted (their defaults
   * stand in until then), templates and instruments when a screen needs them.
   */
  enterMain(today: Today | null = null): void {
    this.firstToday = today;
    if (today?.clock) clock.set(today.clock);
    this.view = { name: "today" };
    this.screen = "main";
    this.lockError = "";
    afterPaint(() => {
      if (this.screen === "main") void this.loadShared();
    });
  }

  /** `vault_unlock` succeeded and returned the day: open the main app on it. */
  unlocked(today: Today | null): void {
    if (this.status) this.status = { ...this.status, unlocked: true };
    this.enterMain(today);
  }

  /** `vault_recover` succeeded: the keys are now kept in `keyStore`; open as after an unlock. */
  recovered(today: Today | null, keyStore: KeyStore): void {
    if (this.status) this.status = { ...this.status, key_store: keyStore };
    this.unlocked(today);
  }

  /** The day the unlock returned, once; null afterwards (Today then asks the core). */
  takeToday(): Today | null {
    const t = this.firstToday;
    this.firstToday = null;
    return t;
  }

  async loadShared(): Promise<void> {
    // The practice's details, for printed notes and Getting started (and the one-time move of
    // those this computer kept before into the vault).
    practice.load().catch(() => {
      /* Settings → Your practice shows any error when opened; printing asks again */
    });
    try {
      this.settings = await api.settings();
    } catch {
      /* the defaults stand in; Settings shows any error when opened */
    }
  }

  async ensureTemplates(): Promise<Templates> {
    if (!this.templates) this.templates = await api.templates();
    return this.templates;
  }

  async ensureInstruments(): Promise<InstrumentInfo[]> {
    if (!this.instruments) this.instruments = await api.instruments();
    return this.instruments;
  }

  navigate(view: View): void {
    this.view = view;
  }

  /**
   * Ctrl+N: a new note in the open client's file, or else for the client in session (their file
   * opens). False when there is no client to write it for.
   */
  requestNewNote(): boolean {
    const v = this.view;
    const code = v.name === "client" ? v.code : clock.view?.running ? clock.view.client_code : null;
    if (!code) return false;
    this.newNoteFor = code;
    this.newNoteSession = null;
    if (v.name !== "client" || v.code !== code) this.navigate({ name: "client", code, tab: "notes" });
    return true;
  }

  /**
   * "Write note" on a session (Today, the week, the clock after End, the to-do list): the
   * client's notes open with the editor on that session's note — its draft if it has one, a
   * new note linked to the session otherwise.
   */
  writeNote(code: string, appointmentId: string): void {
    this.newNoteFor = code;
    this.newNoteSession = appointmentId;
    const v = this.view;
    if (v.name !== "client" || v.code !== code) this.navigate({ name: "client", code, tab: "notes" });
  }

  get navName(): NavName {
    return this.view.name === "client" ? "clients" : this.view.name;
  }

  /** Work to finish before a lock we asked for (e.g. a note editor's pending autosave). */
  private beforeLock = new Set<() => Promise<unknown>>();

  /** Registers `f` to run before the person locks; returns the function that removes it. */
  onBeforeLock(f: () => Promise<unknown>): () => void {
    this.beforeLock.add(f);
    return () => this.beforeLock.delete(f);
  }

  /** While a lock we asked for finishes its saves and sends: the window hides the records. */
  locking = $state(false);

  /** Locks the vault (Lock button, Ctrl+L), saving any typing still waiting first. */
  async lock(): Promise<void> {
    this.locking = true;
    try {
      await this.lockAfterSaving();
    } finally {
      this.locking = false;
    }
  }

  private async lockAfterSaving(): Promise<void> {
    const pending = [...this.beforeLock].map((f) => f().catch(() => {}));
    // A save that hangs must not keep the records open: lock after 3 s whatever happens.
    await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 3000))]);
    // Then what was made here goes to the practice's other computers (at most a few seconds;
    // anything left waits here and is sent at the next unlock).
    if (sync.overview?.enabled) {
      await Promise.race([api.syncFlush().catch(() => 0), new Promise((r) => setTimeout(r, 4000))]);
    }
    try {
      await api.lock();
      this.lockedOut();
    } catch (e) {
      this.lockError = errorMessage(e);
    }
  }

  /** The vault is locked (by us or by the core): forget everything loaded. */
  lockedOut(): void {
    if (this.screen === "first-run" || this.screen === "loading") return;
    this.dropData("unlock");
  }

  /** A call failed because the vault is locked: go to the Unlock screen. */
  handleError(e: unknown): string {
    if (isAppError(e) && e.kind === "locked" && this.screen === "main") this.lockedOut();
    return errorMessage(e);
  }

  private dropData(screen: Screen): void {
    this.view = { name: "today" };
    this.firstToday = null;
    this.templates = null;
    this.instruments = null;
    practice.clear();
    // The Unlock screen says when this computer last synced: the newest time known.
    const lastSync = sync.overview?.last_sync ?? this.status?.last_sync ?? null;
    sync.clear();
    this.settings = { ...DEFAULT_SETTINGS };
    this.lockError = "";
    this.calendarChanges = null;
    this.newNoteFor = null;
    // A running session's time stays (the Unlock screen shows it); who it is with does not.
    clock.forgetWho();
    if (this.status) this.status = { ...this.status, unlocked: false, last_sync: lastSync };
    this.screen = screen;
  }

  showNotice(message: string): void {
    this.notice = message;
  }

  /** The automatic calendar check found changes: offer them for review (a banner). */
  calendarChanged(preview: CalendarPreview): void {
    if (this.screen === "main") this.calendarChanges = preview;
  }

  /** Opens Settings → Calendar, where the waiting preview shows; the banner goes. */
  reviewCalendar(): void {
    this.calendarChanges = null;
    this.navigate({ name: "settings", section: "calendar" });
  }
}

export const app = new AppState();
