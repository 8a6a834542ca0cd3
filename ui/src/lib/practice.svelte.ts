// The practice's details (its name, the therapist's name and registration), kept in the vault
// (`practice_get` / `practice_set`) and so on every computer the records sync to. Printed on
// notes (lib/print.ts) and, by the core, on subject-access responses. Loaded once after the
// unlock, updated when Settings → Your practice saves, forgotten on lock.
//
// Before they were kept in the vault they were kept in this computer's localStorage: the first
// load moves them into the vault, once, if the vault has none, and removes them here.

import { api, type PracticeProfile, type RegistrationBody } from "./api";

/** The bodies a UK therapist is usually registered or accredited with, as the core knows them. */
export const REGISTRATION_BODIES: readonly RegistrationBody[] = ["BACP", "UKCP", "NCPS", "HCPC", "BPS"];

/** The core's limits (records/practice.rs). */
export const NAME_MAX = 120;
export const NUMBER_MAX = 60;

export const EMPTY_PROFILE: PracticeProfile = {
  practice_name: null,
  therapist_name: null,
  registration_body: null,
  registration_number: null,
};

/** "BACP 123456", "HCPC", "Registration 42", or "" when there is nothing to say (as the core words it). */
export function registrationLine(body: string | null | undefined, number: string | null | undefined): string {
  const n = (number ?? "").trim();
  if (!body && !n) return "";
  if (!body) return `Registration ${n}`;
  return n ? `${body} ${n}` : body;
}

export function isEmptyProfile(p: PracticeProfile): boolean {
  return !p.practice_name && !p.therapist_name && !p.registration_body && !p.registration_number;
}

export function readBody(raw: string | null | undefined): RegistrationBody | null {
  return REGISTRATION_BODIES.includes(raw as RegistrationBody) ? (raw as RegistrationBody) : null;
}

/** Text for the profile: trimmed, on one line, null when blank. */
function line(raw: string | null | undefined, max: number): string | null {
  const s = (raw ?? "").replace(/\s+/g, " ").trim().slice(0, max).trim();
  return s === "" ? null : s;
}

/** The profile as Settings' form has it (blank text as ""), ready to send: blank → null. */
export function profileFromForm(f: { practiceName: string; therapistName: string; body: string; number: string }): PracticeProfile {
  return {
    practice_name: line(f.practiceName, NAME_MAX),
    therapist_name: line(f.therapistName, NAME_MAX),
    registration_body: readBody(f.body),
    registration_number: line(f.number, NUMBER_MAX),
  };
}

/** Where this computer kept the practice's details before they moved into the vault. */
export const LEGACY_KEYS = {
  practiceName: "casebook.practice-name",
  registrationBody: "casebook.registration-body",
  registrationNumber: "casebook.registration-number",
} as const;

const storage = (): Storage | null => {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
};

/** What this computer kept from before, or null when it kept nothing. */
export function legacyProfile(): PracticeProfile | null {
  const s = storage();
  const get = (k: string) => {
    try {
      return s?.getItem(k) ?? null;
    } catch {
      return null;
    }
  };
  const p: PracticeProfile = {
    practice_name: line(get(LEGACY_KEYS.practiceName), NAME_MAX),
    therapist_name: null,
    registration_body: readBody(get(LEGACY_KEYS.registrationBody)),
    registration_number: line(get(LEGACY_KEYS.registrationNumber), NUMBER_MAX),
  };
  return isEmptyProfile(p) ? null : p;
}

function forgetLegacy(): void {
  for (const k of Object.values(LEGACY_KEYS)) {
    try {
      storage()?.removeItem(k);
    } catch {
      /* nothing more can be done */
    }
  }
}

class PracticeStore {
  /** The vault's profile; null until loaded (and after a lock). */
  profile = $state<PracticeProfile | null>(null);
  private loading: Promise<PracticeProfile> | null = null;
  /** Bumped by `clear`, so a load that finishes after a lock is not kept. */
  private generation = 0;

  /**
   * The profile, asked of the core once (again when `fresh`), with the one-time move of the
   * details this computer kept before.
   */
  load(fresh = false): Promise<PracticeProfile> {
    // A load already under way is fresh enough (and two must not both move the old details).
    if (this.loading) return this.loading;
    if (!fresh && this.profile) return Promise.resolve(this.profile);
    const gen = this.generation;
    const p = (async () => {
      const got = await this.migrate(await api.practice());
      if (gen === this.generation) this.profile = got;
      return got;
    })();
    this.loading = p;
    const done = () => {
      if (this.loading === p) this.loading = null;
    };
    p.then(done, done);
    return p;
  }

  /**
   * Moves the details kept on this computer into the vault when it has none, then forgets
   * them here. When the vault has its own (set on another computer, or moved already), they
   * win and the old ones are forgotten. If the save fails, they stay here for the next unlock.
   */
  private async migrate(vault: PracticeProfile): Promise<PracticeProfile> {
    const old = legacyProfile();
    if (!old) return vault;
    if (!isEmptyProfile(vault)) {
      forgetLegacy();
      return vault;
    }
    try {
      const saved = await api.setPractice(old);
      forgetLegacy();
      return saved;
    } catch {
      return vault;
    }
  }

  /** Saves the profile in the vault; the store then has it as the core kept it. */
  async save(profile: PracticeProfile): Promise<PracticeProfile> {
    const gen = this.generation;
    const saved = await api.setPractice(profile);
    if (gen === this.generation) this.profile = saved;
    return saved;
  }

  /** The vault locked: forget the profile. */
  clear(): void {
    this.generation++;
    this.profile = null;
    this.loading = null;
  }

  get practiceName(): string {
    return this.profile?.practice_name ?? "";
  }

  get therapistName(): string {
    return this.profile?.therapist_name ?? "";
  }

  get registrationBody(): RegistrationBody | "" {
    return this.profile?.registration_body ?? "";
  }

  get registrationNumber(): string {
    return this.profile?.registration_number ?? "";
  }

  /** "BACP 123456", or "". */
  get registration(): string {
    return registrationLine(this.profile?.registration_body, this.profile?.registration_number);
  }
}

export const practice = new PracticeStore();
