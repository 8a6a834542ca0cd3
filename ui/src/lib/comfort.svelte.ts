// Comfort settings kept on this computer: the text size and the theme. The core's settings
// have no place for them, so they live in localStorage (no clinical data; they apply before
// unlocking too). Applied to <html>: the root font size, so every rem scales, and
// data-theme="light" | "dim" (app.css holds both palettes). "Follow the system" follows the
// OS's light or dark setting as it changes; another window of the app follows a change made
// here (the storage event).

export const TEXT_SIZES = [100, 110, 125, 150] as const;
export type TextSize = (typeof TEXT_SIZES)[number];
export type ThemeChoice = "system" | "light" | "dim";
export const THEMES: { value: ThemeChoice; label: string }[] = [
  { value: "system", label: "Follow the system" },
  { value: "light", label: "Light" },
  { value: "dim", label: "Dim" },
];

const SIZE_KEY = "casebook.text-size";
const THEME_KEY = "casebook.theme";
/** The root font size at 100 %. */
const BASE_PX = 16;

export function readTextSize(raw: string | null): TextSize {
  const n = Number(raw);
  return (TEXT_SIZES as readonly number[]).includes(n) ? (n as TextSize) : 100;
}

export function readTheme(raw: string | null): ThemeChoice {
  return raw === "light" || raw === "dim" ? raw : "system";
}

/** The next size up (+1) or down (-1), staying at the ends; 0 goes back to 100 %. */
export function stepTextSize(size: TextSize, step: -1 | 0 | 1): TextSize {
  if (step === 0) return 100;
  const i = TEXT_SIZES.indexOf(size) + step;
  return TEXT_SIZES[Math.min(Math.max(i, 0), TEXT_SIZES.length - 1)];
}

/** What a keypress asks of the text size: Ctrl (or ⌘) with +/=, − or 0; null for anything else. */
export function textSizeKey(e: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey">): -1 | 0 | 1 | null {
  if (!(e.ctrlKey || e.metaKey) || e.altKey) return null;
  if (e.key === "+" || e.key === "=") return 1;
  if (e.key === "-" || e.key === "_" || e.key === "−") return -1;
  if (e.key === "0") return 0;
  return null;
}

const storage = (): Storage | null => {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage refused: the defaults stand
  }
};

function store(key: string, value: string) {
  try {
    storage()?.setItem(key, value);
  } catch {
    /* not kept, but still applied for this session */
  }
}

class Comfort {
  textSize = $state<TextSize>(100);
  theme = $state<ThemeChoice>("system");
  /** The OS asks for dark colours. */
  systemDark = $state(false);

  /** The theme on screen. */
  get shown(): "light" | "dim" {
    return this.theme === "dim" || (this.theme === "system" && this.systemDark) ? "dim" : "light";
  }

  private scaleText = true;

  /**
   * Reads the saved choices, applies them and follows the OS and other windows. `scaleText`
   * false: the theme only (the small clock window keeps its size).
   */
  start(scaleText = true): () => void {
    this.scaleText = scaleText;
    const s = storage();
    this.textSize = readTextSize(s?.getItem(SIZE_KEY) ?? null);
    this.theme = readTheme(s?.getItem(THEME_KEY) ?? null);
    const mq = typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : null;
    this.systemDark = mq?.matches ?? false;
    this.apply();
    const onScheme = (e: MediaQueryListEvent) => {
      this.systemDark = e.matches;
      this.apply();
    };
    const onStorage = (e: StorageEvent) => {
      if (e.key === SIZE_KEY) this.textSize = readTextSize(e.newValue);
      else if (e.key === THEME_KEY) this.theme = readTheme(e.newValue);
      else return;
      this.apply();
    };
    mq?.addEventListener("change", onScheme);
    window.addEventListener("storage", onStorage);
    return () => {
      mq?.removeEventListener("change", onScheme);
      window.removeEventListener("storage", onStorage);
    };
  }

  setTextSize(size: TextSize): void {
    this.textSize = size;
    store(SIZE_KEY, String(size));
    this.apply();
  }

  stepTextSize(step: -1 | 0 | 1): void {
    this.setTextSize(stepTextSize(this.textSize, step));
  }

  setTheme(theme: ThemeChoice): void {
    this.theme = theme;
    store(THEME_KEY, theme);
    this.apply();
  }

  private apply(): void {
    const root = document.documentElement;
    root.dataset.theme = this.shown;
    if (this.scaleText) root.style.fontSize = `${(BASE_PX * this.textSize) / 100}px`;
  }
}

export const comfort = new Comfort();
