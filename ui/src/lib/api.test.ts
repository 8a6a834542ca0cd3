import { beforeEach, describe, expect, it, vi } from "vitest";

// The Tauri bridge is replaced: every call is recorded, nothing reaches a backend.
vi.mock("@tauri-apps/api/core", () => ({ invoke: vi.fn() }));
vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));

import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import {
  api,
  errorMessage,
  events,
  isAppError,
  type ClientIdentity,
  type KeepPolicy,
  type RetentionPolicy,
  type Settings,
  type Today,
} from "./api";
import { idleClock } from "./testing";

const invokeMock = vi.mocked(invoke);
const listenMock = vi.mocked(listen);

beforeEach(() => {
  invokeMock.mockReset();
  invokeMock.mockResolvedValue(undefined);
  listenMock.mockReset();
});

const identity: ClientIdentity = {
  full_name: "Siân O'Brien",
  date_of_birth: "1988-03-14",
  email: null,
  phone: null,
  emergency_contact: null,
  gp: null,
  nhs_number: "943 476 5919",
};
const settings: Settings = {
  auto_lock_minutes: 10,
  warning_minutes: [10, 5],
  buffer_minutes: 10,
  default_session_minutes: 50,
  next_session_notice_minutes: 5,
  session_notifications: true,
};
const keep: KeepPolicy = { all_hours: 48, daily_days: 30, weekly_weeks: 12, monthly_months: 12 };
const policy: RetentionPolicy = {
  name: "BACP / NCPS common practice",
  adult_years: 7,
  minor_until_age: 25,
  minor_until_age_if_17: 26,
  minor_min_years: 7,
};
const BACKUP = "casebook-2026-11-22T14-02-05.123Z.tar";
const KEY = "7KQ2-M9XD-0A1B-C3D4-E5F6-G7H8-J9K0-1M2N-R4TN";
const SERVER = "https://sync.example.co.uk";

// [what the screen calls, the command Rust must receive, the arguments it must receive]
const cases: [string, () => Promise<unknown>, string, Record<string, unknown> | undefined][] = [
  ["status", () => api.status(), "app_status", undefined],
  ["createVault (passphrase)", () => api.createVault("passphrase", "pw pw pw pw"), "vault_create", { keyStore: "passphrase", passphrase: "pw pw pw pw" }],
  ["createVault (keychain)", () => api.createVault("os-keychain", null), "vault_create", { keyStore: "os-keychain", passphrase: null }],
  ["unlock", () => api.unlock("secret"), "vault_unlock", { passphrase: "secret" }],
  ["recover (new passphrase)", () => api.recover(KEY, "passphrase", "a new passphrase"), "vault_recover", { recoveryKey: KEY, keyStore: "passphrase", passphrase: "a new passphrase" }],
  ["recover (keychain)", () => api.recover(KEY, "os-keychain", null), "vault_recover", { recoveryKey: KEY, keyStore: "os-keychain", passphrase: null }],
  ["lock", () => api.lock(), "vault_lock", undefined],
  ["touch", () => api.touch(), "touch", undefined],
  ["today (default)", () => api.today(), "today", { date: null }],
  ["today (a day)", () => api.today("2026-11-22"), "today", { date: "2026-11-22" }],
  ["clients", () => api.clients(true), "clients_list", { includeClosed: true }],
  ["caseload", () => api.caseload(false), "clients_caseload", { includeClosed: false }],
  ["addClient", () => api.addClient(identity), "client_add", { identity }],
  ["closeClient", () => api.closeClient("C-7KQ2", "2026-11-22"), "client_close", { code: "C-7KQ2", endedOn: "2026-11-22" }],
  ["clientFile", () => api.clientFile("C-7KQ2"), "client_file", { code: "C-7KQ2" }],
  [
    "addAppointment",
    () => api.addAppointment("C-7KQ2", "2026-11-22T14:00:00Z", "2026-11-22T14:50:00Z"),
    "appointment_add",
    { code: "C-7KQ2", startsAt: "2026-11-22T14:00:00Z", endsAt: "2026-11-22T14:50:00Z" },
  ],
  ["workTodo", () => api.workTodo(), "work_todo", undefined],
  [
    "markAppointment",
    () => api.markAppointment("appt-1", "cancelled_late", "train strike"),
    "appointment_mark",
    { id: "appt-1", status: "cancelled_late", reason: "train strike", following: false },
  ],
  [
    "markAppointment (and the rest of the series)",
    () => api.markAppointment("appt-1", "cancelled_by_therapist", null, true),
    "appointment_mark",
    { id: "appt-1", status: "cancelled_by_therapist", reason: null, following: true },
  ],
  [
    "addSeries",
    () => api.addSeries("C-7KQ2", "2026-11-23T10:00", 50, "fortnightly", 6, null),
    "appointment_series_add",
    { code: "C-7KQ2", first: "2026-11-23T10:00", minutes: 50, repeat: "fortnightly", count: 6, until: null },
  ],
  [
    "appointmentsBetween",
    () => api.appointmentsBetween("2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"),
    "appointments_between",
    { from: "2026-11-23T00:00:00Z", to: "2026-11-30T00:00:00Z" },
  ],
  [
    "moveAppointment",
    () => api.moveAppointment("appt-1", "2026-11-24T11:00:00Z", false),
    "appointment_move",
    { id: "appt-1", startsAt: "2026-11-24T11:00:00Z", following: false },
  ],
  ["deleteAppointment", () => api.deleteAppointment("appt-1"), "appointment_delete", { id: "appt-1" }],
  [
    "createNote",
    () => api.createNote("C-7KQ2", "free", { text: "tram" }, "appt-1"),
    "note_create",
    { code: "C-7KQ2", template: "free", fields: { text: "tram" }, appointmentId: "appt-1" },
  ],
  ["saveNote", () => api.saveNote("n1", { text: "tram" }), "note_save", { id: "n1", fields: { text: "tram" } }],
  ["finaliseNote", () => api.finaliseNote("n1"), "note_finalise", { id: "n1" }],
  ["discardNote", () => api.discardNote("n1"), "note_discard", { id: "n1" }],
  ["setNoteRisk", () => api.setNoteRisk("n1", "flagged"), "note_set_risk", { id: "n1", risk: "flagged" }],
  ["addAddendum", () => api.addAddendum("n1", "later"), "note_addendum", { noteId: "n1", text: "later" }],
  ["templates", () => api.templates(), "note_templates", undefined],
  ["addProcessNote", () => api.addProcessNote("C-7KQ2", "mine"), "process_note_add", { code: "C-7KQ2", text: "mine" }],
  ["instruments", () => api.instruments(), "instruments", undefined],
  [
    "addMeasure",
    () => api.addMeasure("C-7KQ2", "core10", [1, 2, null, 0, 1, 0, 1, 2, 3, 4]),
    "measure_add",
    { code: "C-7KQ2", instrument: "core10", items: [1, 2, null, 0, 1, 0, 1, 2, 3, 4] },
  ],
  [
    "editClient",
    () => api.editClient("C-7KQ2", { email: null, aliases: ["Sian"] }, "typo"),
    "client_edit",
    { code: "C-7KQ2", changes: { email: null, aliases: ["Sian"] }, reason: "typo" },
  ],
  [
    "editClient (NHS number)",
    () => api.editClient("C-7KQ2", { nhs_number: "943 476 5919" }, null),
    "client_edit",
    { code: "C-7KQ2", changes: { nhs_number: "943 476 5919" }, reason: null },
  ],
  ["clientHistory", () => api.clientHistory("C-7KQ2"), "client_history", { code: "C-7KQ2" }],
  ["practice", () => api.practice(), "practice_get", undefined],
  [
    "setPractice",
    () =>
      api.setPractice({ practice_name: "Willow Counselling", therapist_name: null, registration_body: "BPS", registration_number: "123" }),
    "practice_set",
    { profile: { practice_name: "Willow Counselling", therapist_name: null, registration_body: "BPS", registration_number: "123" } },
  ],
  [
    "eraseClient",
    () => api.eraseClient("C-7KQ2", "asked to be forgotten", true),
    "client_erase",
    { code: "C-7KQ2", reason: "asked to be forgotten", overrideRetention: true },
  ],
  ["retentionOf", () => api.retentionOf("C-7KQ2"), "retention_of", { code: "C-7KQ2" }],
  ["retentionReview", () => api.retentionReview(), "retention_review", undefined],
  ["retentionPolicy", () => api.retentionPolicy(), "retention_policy_get", undefined],
  [
    "saveRetentionPolicy",
    () => api.saveRetentionPolicy(policy),
    "retention_policy_set",
    { policy },
  ],
  [
    "extendRetention (until)",
    () => api.extendRetention("C-7KQ2", "2040-01-01", "complaint open"),
    "retention_extend",
    { code: "C-7KQ2", until: "2040-01-01", reason: "complaint open" },
  ],
  [
    "extendRetention (remove)",
    () => api.extendRetention("C-7KQ2", null, "resolved"),
    "retention_extend",
    { code: "C-7KQ2", until: null, reason: "resolved" },
  ],
  ["destroyForRetention", () => api.destroyForRetention("C-7KQ2"), "retention_destroy", { code: "C-7KQ2" }],
  ["accessRequests", () => api.accessRequests(), "sar_list", undefined],
  [
    "openAccessRequest",
    () => api.openAccessRequest("C-7KQ2", "2026-11-22"),
    "sar_open",
    { code: "C-7KQ2", receivedOn: "2026-11-22" },
  ],
  [
    "createAccessExport",
    () => api.createAccessExport("C-7KQ2", false, null, [{ item_id: "n1", passage: "Ann", reason: "third party" }]),
    "sar_create",
    {
      code: "C-7KQ2",
      includeProcessNotes: false,
      receivedOn: null,
      redactions: [{ item_id: "n1", passage: "Ann", reason: "third party" }],
      folder: null,
    },
  ],
  [
    "createAccessExport (into a folder chosen)",
    () => api.createAccessExport("C-7KQ2", false, null, [], "/media/sam/BACKUPS"),
    "sar_create",
    { code: "C-7KQ2", includeProcessNotes: false, receivedOn: null, redactions: [], folder: "/media/sam/BACKUPS" },
  ],
  ["closeAccessRequest", () => api.closeAccessRequest("r1"), "sar_close", { id: "r1" }],
  [
    "supervisionExport",
    () => api.supervisionExport(["C-7KQ2"], 30),
    "supervision_export",
    { codes: ["C-7KQ2"], shiftDays: 30, path: null },
  ],
  [
    "supervisionExport (to the file chosen)",
    () => api.supervisionExport(["C-7KQ2"], null, "/home/sam/Documents/supervision.json"),
    "supervision_export",
    { codes: ["C-7KQ2"], shiftDays: null, path: "/home/sam/Documents/supervision.json" },
  ],
  ["search", () => api.search("tram"), "search", { query: "tram", client: null, from: null, to: null }],
  [
    "search (narrowed)",
    () => api.search("tram", { client: "C-7KQ2", from: "2026-01-01", to: "2026-03-31" }),
    "search",
    { query: "tram", client: "C-7KQ2", from: "2026-01-01", to: "2026-03-31" },
  ],
  ["audit", () => api.audit({ action: "note.", limit: 10 }), "audit_list", { filter: { action: "note.", limit: 10 } }],
  ["verifyAudit", () => api.verifyAudit(), "audit_verify", undefined],
  ["exportAudit", () => api.exportAudit({ client_code: "C-7KQ2" }), "audit_export", { filter: { client_code: "C-7KQ2" }, path: null }],
  [
    "exportAudit (to the file chosen)",
    () => api.exportAudit({}, "/home/sam/Documents/audit.csv"),
    "audit_export",
    { filter: {}, path: "/home/sam/Documents/audit.csv" },
  ],
  ["settings", () => api.settings(), "settings_get", undefined],
  ["saveSettings", () => api.saveSettings(settings), "settings_set", { settings }],
  ["clock", () => api.clock(), "clock_view", undefined],
  ["startSession (booked)", () => api.startSession("appt-1", null), "clock_start", { appointmentId: "appt-1", minutes: null }],
  ["startSession (ad hoc)", () => api.startSession(null, 50), "clock_start", { appointmentId: null, minutes: 50 }],
  ["startWalkIn", () => api.startWalkIn("C-7KQ2", 50), "clock_start", { code: "C-7KQ2", minutes: 50 }],
  ["extendSession", () => api.extendSession(), "clock_extend", undefined],
  ["endSessionElsewhere", () => api.endSessionElsewhere("run-1"), "clock_end_elsewhere", { run: "run-1" }],
  ["endSession", () => api.endSession(), "clock_end", undefined],
  ["showClockWindow", () => api.showClockWindow(), "clock_window", undefined],
  ["closeClockWindow", () => api.closeClockWindow(), "clock_window_close", undefined],
  ["backups", () => api.backups(), "backup_overview", undefined],
  ["backupNow", () => api.backupNow(), "backup_now", undefined],
  ["verifyBackup", () => api.verifyBackup(BACKUP), "backup_verify", { name: BACKUP }],
  [
    "saveBackupSettings (a folder)",
    () => api.saveBackupSettings("/media/usb/casebook", 8, keep),
    "backup_settings_set",
    { destination: "/media/usb/casebook", everyHours: 8, keep },
  ],
  [
    "saveBackupSettings (the default folder)",
    () => api.saveBackupSettings(null, 24, keep),
    "backup_settings_set",
    { destination: null, everyHours: 24, keep },
  ],
  [
    "restoreBackup (keychain vault)",
    () => api.restoreBackup(BACKUP, KEY, "/media/usb/casebook/restored-2026-11-22"),
    "backup_restore",
    { name: BACKUP, recoveryKey: KEY, into: "/media/usb/casebook/restored-2026-11-22", passphrase: null },
  ],
  [
    "restoreBackup (passphrase vault)",
    () => api.restoreBackup(BACKUP, KEY, "/r", "correct horse battery staple"),
    "backup_restore",
    { name: BACKUP, recoveryKey: KEY, into: "/r", passphrase: "correct horse battery staple" },
  ],
  ["calendarStatus", () => api.calendarStatus(), "calendar_status", undefined],
  [
    "calendarFeedSet",
    () => api.calendarFeedSet("https://calendar.google.com/calendar/ical/x/private-abc/basic.ics"),
    "calendar_feed_set",
    { url: "https://calendar.google.com/calendar/ical/x/private-abc/basic.ics" },
  ],
  ["calendarRefresh", () => api.calendarRefresh(), "calendar_refresh", undefined],
  [
    "calendarPreviewFile",
    () => api.calendarPreviewFile("diary.ics", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"),
    "calendar_preview_file",
    { name: "diary.ics", text: "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n" },
  ],
  ["calendarApply", () => api.calendarApply("preview-3"), "calendar_apply", { id: "preview-3" }],
  ["calendarDiscard", () => api.calendarDiscard(), "calendar_discard", undefined],
  ["calendarFeedRemove", () => api.calendarFeedRemove(), "calendar_feed_remove", undefined],
  ["calendarAutoRefreshSet (on)", () => api.calendarAutoRefreshSet(true), "calendar_auto_refresh_set", { enabled: true }],
  ["calendarAutoRefreshSet (off)", () => api.calendarAutoRefreshSet(false), "calendar_auto_refresh_set", { enabled: false }],
  ["serverCheck", () => api.serverCheck(SERVER), "server_check", { url: SERVER }],
  [
    "serverConnect (sign in)",
    () =>
      api.serverConnect({
        url: SERVER,
        username: "sam",
        password: "long enough passphrase",
        totp: "123456",
        signUp: false,
        invite: null,
        deviceName: "Consulting room laptop",
      }),
    "server_connect",
    {
      url: SERVER,
      username: "sam",
      password: "long enough passphrase",
      totp: "123456",
      signUp: false,
      invite: null,
      deviceName: "Consulting room laptop",
    },
  ],
  [
    "serverConnect (sign up with an invite)",
    () =>
      api.serverConnect({
        url: SERVER,
        username: "sam",
        password: "long enough passphrase",
        totp: null,
        signUp: true,
        invite: "WELCOME-1",
        deviceName: "This computer",
      }),
    "server_connect",
    {
      url: SERVER,
      username: "sam",
      password: "long enough passphrase",
      totp: null,
      signUp: true,
      invite: "WELCOME-1",
      deviceName: "This computer",
    },
  ],
  ["syncOverview", () => api.syncOverview(), "sync_overview", undefined],
  ["syncEnable", () => api.syncEnable(), "sync_enable", undefined],
  ["syncFlush", () => api.syncFlush(), "sync_flush", undefined],
  ["syncRename", () => api.syncRename("dev-1", "Laptop"), "sync_rename", { device: "dev-1", name: "Laptop" }],
  [
    "syncRevoke",
    () => api.syncRevoke("dev-1", "long enough passphrase", null, "7KQ2-M9XD"),
    "sync_revoke",
    { device: "dev-1", password: "long enough passphrase", totp: null, recoveryKey: "7KQ2-M9XD" },
  ],
  ["syncConflicts", () => api.syncConflicts(), "sync_conflicts", undefined],
  ["pairStart", () => api.pairStart(), "pair_start", undefined],
  ["pairPoll", () => api.pairPoll(), "pair_poll", undefined],
  ["pairAnswer", () => api.pairAnswer(true), "pair_answer", { add: true }],
  ["pairCancel", () => api.pairCancel(), "pair_cancel", undefined],
  [
    "joinByCode",
    () =>
      api.joinByCode({
        url: SERVER,
        username: "sam",
        password: "long enough passphrase",
        totp: null,
        code: "K7Q2M9XD4F",
        name: "Home laptop",
      }),
    "join_by_code",
    { url: SERVER, username: "sam", password: "long enough passphrase", totp: null, code: "K7Q2M9XD4F", name: "Home laptop" },
  ],
  ["joinPoll", () => api.joinPoll(), "join_poll", undefined],
  ["joinCancel", () => api.joinCancel(), "join_cancel", undefined],
  ["joinFinish", () => api.joinFinish(null), "join_finish", { passphrase: null }],
  ["syncResolve", () => api.syncResolve("c1", "other"), "sync_resolve", { id: "c1", keep: "other" }],
  ["offsiteOverview", () => api.offsiteOverview(), "offsite_overview", undefined],
  ["offsiteHealth", () => api.offsiteHealth(), "offsite_health", undefined],
  ["offsiteBackupNow", () => api.offsiteBackupNow(), "offsite_backup_now", undefined],
  ["offsiteVerify", () => api.offsiteVerify("cb-7kq2"), "offsite_verify", { name: "cb-7kq2" }],
  [
    "offsiteRestore (keychain vault)",
    () => api.offsiteRestore("cb-7kq2", KEY, "/r"),
    "offsite_restore",
    { name: "cb-7kq2", recoveryKey: KEY, into: "/r", passphrase: null },
  ],
  [
    "offsiteRestore (passphrase vault)",
    () => api.offsiteRestore("cb-7kq2", KEY, "/r", "correct horse battery staple"),
    "offsite_restore",
    { name: "cb-7kq2", recoveryKey: KEY, into: "/r", passphrase: "correct horse battery staple" },
  ],
  ["offsiteScheduleSet (on)", () => api.offsiteScheduleSet(true), "offsite_schedule_set", { on: true }],
  ["offsiteScheduleSet (off)", () => api.offsiteScheduleSet(false), "offsite_schedule_set", { on: false }],
  ["serverTotpStart", () => api.serverTotpStart("pw"), "server_totp_start", { password: "pw" }],
  ["serverTotpConfirm", () => api.serverTotpConfirm("123456"), "server_totp_confirm", { code: "123456" }],
  ["serverDisconnect", () => api.serverDisconnect(), "server_disconnect", undefined],
  [
    "serverDeleteAccount (with a code)",
    () => api.serverDeleteAccount("pw", "123456"),
    "server_delete_account",
    { password: "pw", totp: "123456" },
  ],
  ["serverDeleteAccount (no code)", () => api.serverDeleteAccount("pw", null), "server_delete_account", { password: "pw", totp: null }],
  [
    "restoreFileFirstRun",
    () => api.restoreFileFirstRun(`/media/usb/${BACKUP}`, KEY, null),
    "restore_file_first_run",
    { path: `/media/usb/${BACKUP}`, recoveryKey: KEY, passphrase: null },
  ],
  [
    "serverRestoreSignIn",
    () => api.serverRestoreSignIn({ url: SERVER, username: "sam", password: "pw", totp: null, recoveryKey: KEY }),
    "server_restore_sign_in",
    { url: SERVER, username: "sam", password: "pw", totp: null, recoveryKey: KEY },
  ],
  [
    "serverRestoreFirstRun (chosen, passphrase)",
    () => api.serverRestoreFirstRun("cb-7kq2", "correct horse battery staple"),
    "server_restore_first_run",
    { name: "cb-7kq2", passphrase: "correct horse battery staple" },
  ],
  [
    "serverRestoreFirstRun (the default)",
    () => api.serverRestoreFirstRun(null, null),
    "server_restore_first_run",
    { name: null, passphrase: null },
  ],
  ["serverRestoreCancel", () => api.serverRestoreCancel(), "server_restore_cancel", undefined],
];

describe("api commands", () => {
  it.each(cases)("%s calls %s with the right arguments", async (_name, call, cmd, args) => {
    await call();
    expect(invokeMock).toHaveBeenCalledTimes(1);
    expect(invokeMock.mock.calls[0][0]).toBe(cmd);
    expect(invokeMock.mock.calls[0][1]).toEqual(args);
  });

  it("covers every function in the api module", () => {
    const tested = new Set(cases.map(([name]) => name.split(" ")[0]));
    expect(Object.keys(api).filter((k) => !tested.has(k))).toEqual([]);
  });

  it("returns what the backend returns", async () => {
    invokeMock.mockResolvedValueOnce({ recovery_key: "AAAA-BBBB" });
    await expect(api.createVault("os-keychain", null)).resolves.toEqual({ recovery_key: "AAAA-BBBB" });
  });

  it("unlock returns the day, the same shape as today()", async () => {
    const day: Today = {
      date: "2026-11-22",
      appointments: [
        {
          id: "appt-1",
          client_code: "C-7KQ2",
          client_name: "Siân O'Brien",
          starts_at: "2026-11-22T14:00:00Z",
          ends_at: "2026-11-22T14:50:00Z",
          status: "scheduled",
        },
      ],
      next: null,
      clock: idleClock(),
    };
    invokeMock.mockResolvedValueOnce(day);
    const got: Today = await api.unlock(null);
    expect(got).toEqual(day);
    expect(invokeMock).toHaveBeenCalledWith("vault_unlock", { passphrase: null });
  });
});

describe("errors", () => {
  it("passes the backend's error through, worded for a person", async () => {
    const err = { kind: "wrong_passphrase", message: "That passphrase is not right." };
    invokeMock.mockRejectedValueOnce(err);
    let caught: unknown = null;
    try {
      await api.unlock("nope");
    } catch (e) {
      caught = e;
    }
    expect(caught).toEqual(err);
    expect(isAppError(caught)).toBe(true);
    expect(errorMessage(caught)).toBe("That passphrase is not right.");
  });

  it("words any other failure too, never as [object Object]", () => {
    expect(errorMessage(new Error("IPC failed"))).toBe("IPC failed");
    expect(errorMessage("plain text")).toBe("plain text");
    expect(isAppError({ message: "no kind" })).toBe(false);
    expect(isAppError(null)).toBe(false);
  });
});

describe("events", () => {
  it("hands each event's payload to the listener", async () => {
    const unlisten = vi.fn();
    listenMock.mockResolvedValue(unlisten);

    const onClock = vi.fn();
    const u = await events.onClock(onClock);
    expect(u).toBe(unlisten);
    expect(listenMock.mock.calls[0][0]).toBe("clock");
    const handler = listenMock.mock.calls[0][1] as (e: { payload: unknown }) => void;
    handler({ payload: { running: true, display: "49:57" } });
    expect(onClock).toHaveBeenCalledWith({ running: true, display: "49:57" });

    const onNotice = vi.fn();
    await events.onNotice(onNotice);
    expect(listenMock.mock.calls[1][0]).toBe("notice");
    (listenMock.mock.calls[1][1] as (e: { payload: unknown }) => void)({ payload: { message: "5 minutes left" } });
    expect(onNotice).toHaveBeenCalledWith({ message: "5 minutes left" });

    const onLocked = vi.fn();
    await events.onLocked(onLocked);
    expect(listenMock.mock.calls[2][0]).toBe("locked");
    (listenMock.mock.calls[2][1] as (e: { payload: unknown }) => void)({ payload: null });
    expect(onLocked).toHaveBeenCalledTimes(1);

    const onBackup = vi.fn();
    await events.onBackup(onBackup);
    expect(listenMock.mock.calls[3][0]).toBe("backup");
    (listenMock.mock.calls[3][1] as (e: { payload: unknown }) => void)({ payload: null });
    expect(onBackup).toHaveBeenCalledTimes(1);

    const onCalendar = vi.fn();
    await events.onCalendarChanges(onCalendar);
    expect(listenMock.mock.calls[4][0]).toBe("calendar-changes");
    const preview = { source: "feed", counts: { new: 1, moved: 0, cancelled: 0 } };
    (listenMock.mock.calls[4][1] as (e: { payload: unknown }) => void)({ payload: preview });
    expect(onCalendar).toHaveBeenCalledWith(preview);

    const onLockRequested = vi.fn();
    await events.onLockRequested(onLockRequested);
    expect(listenMock.mock.calls[5][0]).toBe("lock-requested");
    (listenMock.mock.calls[5][1] as (e: { payload: unknown }) => void)({ payload: null });
    expect(onLockRequested).toHaveBeenCalledTimes(1);

    const onDayChanged = vi.fn();
    await events.onDayChanged(onDayChanged);
    expect(listenMock.mock.calls[6][0]).toBe("day-changed");
    (listenMock.mock.calls[6][1] as (e: { payload: unknown }) => void)({ payload: null });
    expect(onDayChanged).toHaveBeenCalledTimes(1);

    const onProgress = vi.fn();
    await events.onOffsiteProgress(onProgress);
    expect(listenMock.mock.calls[7][0]).toBe("offsite-progress");
    const report = { stage: "upload", done: 5, total: 10 };
    (listenMock.mock.calls[7][1] as (e: { payload: unknown }) => void)({ payload: report });
    expect(onProgress).toHaveBeenCalledWith(report);

    const onSync = vi.fn();
    await events.onSyncRan(onSync);
    expect(listenMock.mock.calls[8][0]).toBe("sync-ran");
    const ran = { wake: "elsewhere", received: 1, applied_changes: 3, sent: 0, conflicts: 0, error: null, alarm: null };
    (listenMock.mock.calls[8][1] as (e: { payload: unknown }) => void)({ payload: ran });
    expect(onSync).toHaveBeenCalledWith(ran);
  });

  it("the tray's Write note hands over the session to open", async () => {
    listenMock.mockClear();
    listenMock.mockResolvedValue(vi.fn());
    const onWriteNote = vi.fn();
    await events.onWriteNote(onWriteNote);
    expect(listenMock.mock.calls[0][0]).toBe("write-note");
    const w = { client_code: "C-7KQ2", appointment_id: "a1" };
    (listenMock.mock.calls[0][1] as (e: { payload: unknown }) => void)({ payload: w });
    expect(onWriteNote).toHaveBeenCalledWith(w);
  });
});
