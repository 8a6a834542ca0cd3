import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { actionLabel, AUDIT_WORDS, detailParts, detailWords, isRoutine, plainLabel } from "./audit-words";

/** Every action string the core writes, read from `Action::as_str` in the core's source. */
function coreActions(): string[] {
  const rust = readFileSync(join(__dirname, "../../../crates/core/src/audit.rs"), "utf8");
  const start = rust.indexOf("pub fn as_str(self)");
  expect(start, "Action::as_str is in audit.rs").toBeGreaterThan(0);
  const body = rust.slice(start, rust.indexOf("\n    }\n", start));
  return [...body.matchAll(/=>\s*"([^"]+)"/g)].map((m) => m[1]);
}

describe("the audit log's words", () => {
  it("has a label for every action the core writes", () => {
    const actions = coreActions();
    expect(actions.length).toBeGreaterThan(50);
    const missing = actions.filter((a) => !(a in AUDIT_WORDS));
    expect(missing).toEqual([]);
    for (const a of actions) {
      expect(plainLabel(a), a).not.toBe(a);
      expect(plainLabel(a), a).not.toMatch(/[._=]/);
    }
  });

  it("knows no action the core does not write", () => {
    const actions = new Set(coreActions());
    expect(Object.keys(AUDIT_WORDS).filter((a) => !actions.has(a))).toEqual([]);
  });

  it("shows an unknown action as written", () => {
    expect(actionLabel("thing.new_in_a_later_core", "x=1")).toBe("thing.new_in_a_later_core");
    expect(isRoutine("thing.new_in_a_later_core")).toBe(false);
    expect(detailWords("thing.new_in_a_later_core", "x=1 flag=true word")).toBe("1 x, flag: yes, word");
  });

  it("says how the vault was unlocked", () => {
    expect(actionLabel("vault.unlock", "key_store=os-keychain")).toBe("Unlocked with the keychain");
    expect(actionLabel("vault.unlock", "key_store=passphrase")).toBe("Unlocked with the passphrase");
    expect(actionLabel("vault.unlock", null)).toBe("Unlocked");
    expect(detailWords("vault.unlock", "key_store=passphrase")).toBe("");
    expect(actionLabel("vault.unlock_failed", "reason=wrong_passphrase")).toBe("Unlock failed");
    expect(detailWords("vault.unlock_failed", "reason=wrong_passphrase")).toBe("wrong passphrase");
  });

  it("tells the day's sessions from a client's", () => {
    expect(actionLabel("appointment.list", "count=0", false)).toBe("Viewed the day's sessions");
    expect(actionLabel("appointment.list", "count=3", true)).toBe("Viewed a client's sessions");
    expect(detailWords("appointment.list", "count=0")).toBe("0 sessions");
    expect(detailWords("appointment.list", "count=1")).toBe("1 session");
    expect(detailWords("audit.list", "count=37")).toBe("37 entries");
  });

  it("puts details in words", () => {
    expect(detailWords("session.end", "minutes=70 overrun=true")).toBe("1 hr 10 min, ran over");
    expect(detailWords("session.end", "minutes=50 overrun=false")).toBe("50 min");
    expect(detailWords("session.start", "ad_hoc minutes=50")).toBe("ad-hoc, 50 min");
    expect(detailWords("session.start", "walk_in minutes=50")).toBe("walk-in, 50 min");
    expect(detailWords("note.create", "template=soap")).toBe("SOAP template");
    expect(detailWords("measure.create", "instrument=phq9")).toBe("PHQ-9");
    expect(detailWords("appointment.mark", "status=did_not_attend")).toBe("did not attend");
    expect(detailWords("appointment.mark", "status=cancelled source=calendar")).toBe("cancelled, from the calendar");
    expect(detailWords("appointment.mark", "status=cancelled_late")).toBe("cancelled late");
    expect(detailWords("appointment.cancel", "by=client_late sessions=3")).toBe("late, by the client, 3 sessions");
    expect(detailWords("appointment.cancel", "by=therapist sessions=1")).toBe("by you, 1 session");
    expect(detailWords("appointment.series_create", "sessions=6 every_weeks=2")).toBe("6 sessions, fortnightly");
    expect(detailWords("appointment.series_create", "sessions=4 every_weeks=3")).toBe("4 sessions, every 3 weeks");
    expect(detailWords("client.edit", "fields=full_name,date_of_birth")).toBe("Name, Date of birth");
    expect(detailWords("client.edit", "fields=nhs_number")).toBe("NHS number");
    expect(detailWords("practice.set", "set=practice_name,therapist_name,registration")).toBe(
      "practice name, therapist's name, registration number given",
    );
    expect(detailWords("practice.set", "set=")).toBe("all cleared");
    expect(detailWords("backup.create", "file=casebook-2026.tar bytes=4200")).toBe("casebook-2026.tar, 4.2 KB");
    expect(detailWords("backup.verify", "file=casebook-2026.tar failed: integrity_check")).toBe(
      "casebook-2026.tar, failed: integrity check",
    );
    expect(detailWords("audit.verify", "ok entries=38")).toBe("OK, 38 entries");
    expect(detailWords("calendar.import", "source=feed new=2 moved=0 cancelled=1 unchanged=0 skipped=0 new_clients=1")).toBe(
      "from the calendar feed, 2 new, 1 cancelled, 1 new client",
    );
    expect(detailWords("retention.extend", "until=2031-05-01")).toBe("kept until 01/05/2031");
    expect(detailWords("note.addendum", "note=01J0ABC")).toBe("");
    expect(detailWords("search", "results=1")).toBe("1 result");
  });

  it("keeps a device's name whole, spaces and all", () => {
    expect(detailParts("device=Sam's laptop").pairs.device).toBe("Sam's laptop");
    expect(detailWords("server.connect", "device=Sam's laptop after restore")).toBe(
      "this computer named “Sam's laptop”, after a restore",
    );
  });

  it("refines a label from its detail", () => {
    expect(actionLabel("server.totp", "enabled")).toBe("Turned on two-step sign-in");
    expect(actionLabel("sar.create", "opened")).toBe("Recorded a subject-access request");
    expect(actionLabel("sar.create", "export include_process_notes=false redactions=0")).toBe(
      "Exported records for a subject-access request",
    );
    expect(actionLabel("client.read", "retention")).toBe("Viewed a client's review date");
    expect(actionLabel("backup.create", "to=server name=x bytes=1")).toBe("Made an off-site backup");
  });

  it("counts reads in the course of work as routine, and changes never", () => {
    for (const a of ["vault.unlock", "client.list", "client.read", "appointment.list", "note.read", "audit.list"])
      expect(isRoutine(a), a).toBe(true);
    for (const a of ["vault.unlock_failed", "note.finalise", "client.erase", "search", "audit.export", "keys.show"])
      expect(isRoutine(a), a).toBe(false);
  });
});
