// Today's "Getting started" list: the steps of setting Casebook up, and which of them the
// UI can tell are done. A step it cannot know about is never ticked (done: null).

import { defaultDestination, samePath } from "./backups";

export type StepId = "practice" | "defaults" | "client" | "calendar" | "backup-folder" | "restore";

export interface SetupFacts {
  /** The practice's details in the vault; null: not known (not loaded yet). */
  practiceName: string | null;
  registrationBody: string | null;
  registrationNumber: string | null;
  /** A default note template was chosen in Settings. */
  templateChosen: boolean;
  /** How many clients there are (closed ones too); null: not known. */
  clients: number | null;
  /** The booking calendar is connected; null: not known. */
  calendarConnected: boolean | null;
  /** Sessions booked today; null: not known. */
  bookedToday: number | null;
  /** Where backups go, and the records' folder; null: not known. */
  backupDestination: string | null;
  vaultDir: string | null;
  /** Backups also go to the off-site server; null: not known. */
  offsiteConnected: boolean | null;
  /** The day a restore was tried from this computer, or "". */
  restoreTestedOn: string;
}

export interface SetupStep {
  id: StepId;
  title: string;
  detail: string;
  /** true: done; false: still to do; null: the app cannot tell. */
  done: boolean | null;
}

/**
 * True when every backup is in the default folder beside the records (the same disk) and none
 * goes off-site; false when they go elsewhere too; null when that is not known.
 */
export function backupsOnlyBesideRecords(f: SetupFacts): boolean | null {
  if (f.backupDestination === null || f.vaultDir === null) return null;
  const beside = samePath(f.backupDestination, defaultDestination(f.vaultDir));
  if (!beside) return false;
  if (f.offsiteConnected === true) return false;
  return f.offsiteConnected === false ? true : null;
}

const either = (a: boolean | null, b: boolean | null): boolean | null =>
  a === true || b === true ? true : a === null || b === null ? null : false;

export function setupSteps(f: SetupFacts): SetupStep[] {
  const onlyBeside = backupsOnlyBesideRecords(f);
  return [
    {
      id: "practice",
      title: "Add your practice name and registration",
      detail:
        "Your registration or accreditation body (BACP, UKCP, NCPS, HCPC or BPS) and number; printed on notes and subject-access responses.",
      done:
        f.practiceName === null || f.registrationBody === null || f.registrationNumber === null
          ? null
          : f.practiceName.trim() !== "" && f.registrationBody !== "" && f.registrationNumber.trim() !== "",
    },
    {
      id: "defaults",
      title: "Choose your default session length and note template",
      detail: "Used for ad-hoc sessions, new bookings and new notes.",
      done: f.templateChosen,
    },
    {
      id: "client",
      title: "Add your first client",
      detail: "Each client gets a code; their name stays in the identity store.",
      done: f.clients === null ? null : f.clients > 0,
    },
    {
      id: "calendar",
      title: "Connect your calendar, or book a session",
      detail: "Connect the booking calendar you already use, or book a session here.",
      done: either(f.calendarConnected, f.bookedToday === null ? null : f.bookedToday > 0),
    },
    {
      id: "backup-folder",
      title: "Choose a backup folder",
      detail: "A folder on another disk, such as an external drive, or an off-site copy.",
      done: onlyBeside === null ? null : !onlyBeside,
    },
    {
      id: "restore",
      title: "Test a restore",
      detail: "Restore a backup into a new folder, to be sure you could get your records back.",
      done: f.restoreTestedOn !== "",
    },
  ];
}
